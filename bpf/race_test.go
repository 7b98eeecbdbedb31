//go:build linux

package bpf

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// tcpFrame is an Ethernet/IPv4/TCP frame (20-byte TCP header, no payload)
// from 10.199.0.src:sport to 10.199.0.dst:dport with the given flags.
func tcpFrame(src, dst uint32, sport, dport uint16, flags uint8) []byte {
	b := make([]byte, 14+20+20)
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	binary.BigEndian.PutUint32(ip[12:], 0x0ac70000|src)
	binary.BigEndian.PutUint32(ip[16:], 0x0ac70000|dst)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12] = 5 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 1000)
	return b
}

// runStats returns prog's run statistics (BPF_STATS_RUN_TIME enabled).
func runStats(t *testing.T, prog *ebpf.Program) *ebpf.ProgramStats {
	t.Helper()
	st, err := prog.Stats()
	if err != nil {
		t.Fatalf("%v: run count: %v", prog, err)
	}
	return st
}

// onCPUs runs fn(cpu) for each CPU in 0..n-1 at once, each on a thread
// pinned to its CPU.
func onCPUs(t *testing.T, n int, fn func(cpu int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func(cpu int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var set unix.CPUSet
			set.Set(cpu)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				errs <- err
				return
			}
			if err := fn(cpu); err != nil {
				errs <- err
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

type ringEvents struct {
	ends  []FlowhawkEndEvent
	flows []FlowhawkFlowEvent
	other int
}

// readRing reads the ring buffer's end and flow events until it stays
// empty for 200 ms after done closes.
func readRing(t *testing.T, objs *FlowhawkObjects, done <-chan struct{}) *ringEvents {
	ev := &ringEvents{}
	rd, err := ringbuf.NewReader(objs.Events)
	if err != nil {
		t.Error(err) // not Fatal: readRing runs in its own goroutine
		return ev
	}
	defer rd.Close()
	finished := false
	for {
		if finished {
			rd.SetDeadline(time.Now().Add(200 * time.Millisecond))
		} else {
			rd.SetDeadline(time.Now().Add(50 * time.Millisecond))
		}
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if finished {
				return ev
			}
			select {
			case <-done:
				finished = true
			default:
			}
			continue
		}
		if err != nil {
			t.Error(err)
			return ev
		}
		switch rec.RawSample[0] {
		case 2:
			ev.ends = append(ev.ends, *(*FlowhawkEndEvent)(unsafe.Pointer(&rec.RawSample[0])))
		case 3:
			ev.flows = append(ev.flows, *(*FlowhawkFlowEvent)(unsafe.Pointer(&rec.RawSample[0])))
		default:
			ev.other++
		}
	}
}

func pkts(v *FlowhawkFlowValue) uint64 { return v.Dir[0].Packets + v.Dir[1].Packets }

// checkRecord reports what is impossible in one flow incarnation's record.
func checkRecord(v *FlowhawkFlowValue) string {
	switch {
	case pkts(v) == 0:
		return "no packets"
	case v.First == 0:
		return "first == 0"
	case v.Last < v.First:
		return "last < first"
	case v.IatMax > v.Last-v.First:
		return "iat_max > last-first"
	case v.Dir[0].FlowIatSum+v.Dir[1].FlowIatSum > v.Last-v.First:
		return "sum of flow gaps > last-first"
	}
	return ""
}

// TestRaceCloseReuse runs one TCP flow's two directions on two CPUs at
// once, as XDP ingress (native, no lock) and TC egress do: lo sends
// SYN|FIN on CPU 0, hi sends SYN|FIN on CPU 1. Each SYN on a closed flow
// starts a new incarnation (reuse: the old record goes out as EV_FLOW),
// and a FIN from each side closes it (one EV_END). So every incarnation
// must be closed exactly once, every EV_FLOW must carry a closed,
// non-empty record, and the packets of all records must add up to the
// runs.
func TestRaceCloseReuse(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	for _, mode := range []string{"tc+tc", "xdp+tc", "xdp_lock+tc"} {
		t.Run(mode, func(t *testing.T) {
			objs := loadWith(t, 1024, func(spec *ebpf.CollectionSpec) {
				if err := spec.Variables[FlowhawkVarMaxSamples].Set(uint32(0)); err != nil {
					t.Fatal(err)
				}
				spec.Maps[FlowhawkMapEvents].MaxEntries = 1 << 27
			})
			stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
			if err != nil {
				t.Fatal(err)
			}
			defer stats.Close()
			p0 := objs.FlowhawkTcIngress
			if mode != "tc+tc" {
				p0 = objs.FlowhawkXdp
			}
			if mode == "xdp_lock+tc" {
				if err := objs.XdpLock.Set(uint8(1)); err != nil {
					t.Fatal(err)
				}
			}
			p1 := objs.FlowhawkTc
			b0, b1 := runStats(t, p0), runStats(t, p1)
			done := make(chan struct{})
			evc := make(chan *ringEvents)
			go func() { evc <- readRing(t, objs, done) }()
			const per = 100_000
			progs := []*ebpf.Program{p0, p1}
			frames := [][]byte{
				tcpFrame(2, 3, 40000, 80, 0x03), // lo: SYN|FIN
				tcpFrame(3, 2, 80, 40000, 0x03), // hi: SYN|FIN
			}
			onCPUs(t, 2, func(cpu int) error {
				_, _, err := progs[cpu].Benchmark(frames[cpu], per, nil)
				return err
			})
			close(done)
			ev := <-evc
			a0, a1 := runStats(t, p0), runStats(t, p1)
			runs := a0.RunCount - b0.RunCount + a1.RunCount - b1.RunCount
			var k FlowhawkFlowKey4
			var last FlowhawkFlowValue
			if !objs.Flows4.Iterate().Next(&k, &last) {
				t.Fatal("no flow in the map")
			}
			var total uint64
			bad := map[string]int{}
			for i := range ev.flows {
				v := &ev.flows[i].Value
				total += pkts(v)
				if v.Flags&2 == 0 {
					bad["EV_FLOW of an open flow"]++
				}
				if s := checkRecord(v); s != "" {
					bad["EV_FLOW: "+s]++
				}
			}
			total += pkts(&last)
			if s := checkRecord(&last); s != "" {
				bad["map entry: "+s]++
			}
			inc := len(ev.flows) + 1
			closed := len(ev.flows)
			if last.Flags&2 != 0 {
				closed++
			}
			c := counters(t, objs)
			t.Logf("runs %d, packets in records %d, incarnations %d (closed %d), EV_END %d, other events %d, ringbuf full %d",
				runs, total, inc, closed, len(ev.ends), ev.other, c[7])
			if len(ev.ends) != closed {
				t.Errorf("%d EV_END for %d closed incarnations", len(ev.ends), closed)
			}
			if total != runs {
				t.Errorf("records hold %d packets, programs ran %d times", total, runs)
			}
			for s, n := range bad {
				t.Errorf("%d x %s", n, s)
			}
		})
	}
}

// TestRaceCreate sends the first packet of each of many new UDP flows
// from two CPUs at the same moment (lo on CPU 0 by TC ingress, hi on CPU
// 1 by TC egress; a spin barrier lines the two BPF_PROG_TEST_RUN calls up).
// The CPU whose BPF_NOEXIST insert lost (r == -EEXIST, not fresh) may take
// the lock before the creator has set first/last: it then measures a gap
// from last == 0, the time since boot.
func TestRaceCreate(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	objs := loadWith(t, 1<<16, func(spec *ebpf.CollectionSpec) {
		if err := spec.Variables[FlowhawkVarMaxSamples].Set(uint32(0)); err != nil {
			t.Fatal(err)
		}
	})
	const n = 30000
	var gate [2]int64
	onCPUs(t, 2, func(cpu int) error {
		prog := objs.FlowhawkTcIngress
		if cpu == 1 {
			prog = objs.FlowhawkTc
		}
		frames := make([][]byte, n)
		for i := range frames {
			f := udpFrame(uint32(i>>15)+2, uint16(i))
			if cpu == 1 { // the reply: swap addresses and ports
				ip := f[14:]
				var a [4]byte
				copy(a[:], ip[12:16])
				copy(ip[12:16], ip[16:20])
				copy(ip[16:20], a[:])
				var p [2]byte
				copy(p[:], ip[20:22])
				copy(ip[20:22], ip[22:24])
				copy(ip[22:24], p[:])
			}
			frames[i] = f
		}
		for i := 0; i < n; i++ {
			atomic.StoreInt64(&gate[cpu], int64(i+1))
			for atomic.LoadInt64(&gate[1-cpu]) < int64(i+1) {
			}
			if _, _, err := prog.Benchmark(frames[i], 1, nil); err != nil {
				return err
			}
		}
		return nil
	})
	var k FlowhawkFlowKey4
	var v FlowhawkFlowValue
	it := objs.Flows4.Iterate()
	bad := map[string]int{}
	flows := 0
	for it.Next(&k, &v) {
		flows++
		if pkts(&v) != 2 {
			bad["packets != 2"]++
		}
		if s := checkRecord(&v); s != "" {
			bad[s]++
		}
	}
	t.Logf("%d flows", flows)
	for s, c := range bad {
		t.Errorf("%d of %d flows: %s", c, flows, s)
	}
}
