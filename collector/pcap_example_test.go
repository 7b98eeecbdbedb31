package collector_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/flowhawk/flowhawk/collector"
	"github.com/flowhawk/flowhawk/collector/pcapgen"
)

// Reading a capture into the flow table. OpenPcap(path, opts) does the same
// for a file; ExpandPaths and NewMultiSource handle directories and lists.
func ExampleNewPcapSource() {
	var capture bytes.Buffer
	pcapgen.Write(&capture, pcapgen.Config{Seed: 1, Packets: 1000, Flows: 100})

	src, err := collector.NewPcapSource(&capture, "generated.pcap", collector.PcapOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	flows := 0
	table := collector.NewTable(collector.DefaultTableConfig(), func(*collector.Flow) { flows++ })
	var p collector.Packet
	for {
		err := src.NextPacket(&p)
		if err == io.EOF {
			break
		}
		if err != nil { // a *collector.ReadError naming file and offset
			fmt.Println(err)
			break
		}
		table.Add(&p)
	}
	table.Flush()
	st := src.Stats()
	fmt.Printf("frames %d, ip packets %d, malformed %d, flows %d\n", st.Frames, st.IPPackets, st.Malformed, flows)
	// Output: frames 1000, ip packets 1000, malformed 0, flows 128
}
