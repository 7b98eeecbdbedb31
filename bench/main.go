// Command bench trains golearn's random forest on NSL-KDD for comparison
// with flowhawk's classifier (speed, peak memory, accuracy). It is a
// separate module so golearn never enters flowhawk's own dependencies.
//
//	go run . --data ../../shared/datasets/nsl-kdd --rows 12597 --trees 100
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sjwhitworth/golearn/base"
	"github.com/sjwhitworth/golearn/ensemble"
	"github.com/sjwhitworth/golearn/evaluation"
)

var category = map[string]string{"normal": "normal"}

func init() {
	for cat, names := range map[string]string{
		"DoS":   "back land neptune pod smurf teardrop apache2 mailbomb processtable udpstorm worm",
		"Probe": "ipsweep nmap portsweep satan mscan saint",
		"R2L": "ftp_write guess_passwd imap multihop phf spy warezclient warezmaster sendmail named " +
			"snmpgetattack snmpguess xlock xsnoop httptunnel",
		"U2R": "buffer_overflow loadmodule perl rootkit ps sqlattack xterm",
	} {
		for _, n := range strings.Fields(names) {
			category[n] = cat
		}
	}
}

// convert writes an NSL-KDD file as a headed CSV golearn can parse:
// categorical features as ordinal codes (codes from the training file),
// num_outbound_cmds (constant) dropped, the 5-class label last.
func convert(in, out string, rows int, codes []map[string]int) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	defer o.Close()
	w := bufio.NewWriter(o)
	defer w.Flush()
	var hdr []string
	for i := 0; i < 41; i++ {
		if i != 19 {
			hdr = append(hdr, fmt.Sprintf("f%d", i))
		}
	}
	fmt.Fprintln(w, strings.Join(hdr, ",")+",class")
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if rows > 0 && n >= rows {
			break
		}
		p := strings.Split(sc.Text(), ",")
		if len(p) < 42 {
			continue
		}
		var rec []string
		for i := 0; i < 41; i++ {
			if i == 19 {
				continue
			}
			v := p[i]
			if i >= 1 && i <= 3 {
				c, ok := codes[i-1][v]
				if !ok {
					c = len(codes[i-1])
					codes[i-1][v] = c
				}
				v = fmt.Sprint(c)
			}
			rec = append(rec, v)
		}
		rec = append(rec, category[p[41]])
		fmt.Fprintln(w, strings.Join(rec, ","))
		n++
	}
	return sc.Err()
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func main() {
	data := flag.String("data", "../../shared/datasets/nsl-kdd", "NSL-KDD directory")
	rows := flag.Int("rows", 0, "use only the first N training rows (0: all 125,973)")
	trees := flag.Int("trees", 100, "trees")
	features := flag.Int("features", 6, "features per tree (golearn samples per tree, not per split)")
	seed := flag.Int64("seed", 1, "seed")
	flag.Parse()
	rand.Seed(*seed)
	tmp, err := os.MkdirTemp("", "golearn-bench")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	codes := []map[string]int{{}, {}, {}}
	trainCSV, testCSV := filepath.Join(tmp, "train.csv"), filepath.Join(tmp, "test.csv")
	if err := convert(filepath.Join(*data, "KDDTrain+.txt"), trainCSV, *rows, codes); err != nil {
		panic(err)
	}
	if err := convert(filepath.Join(*data, "KDDTest+.txt"), testCSV, 0, codes); err != nil {
		panic(err)
	}
	train, err := base.ParseCSVToInstances(trainCSV, true)
	if err != nil {
		panic(err)
	}
	test, err := base.ParseCSVToTemplatedInstances(testCSV, true, train)
	if err != nil {
		panic(err)
	}
	_, nrows := train.Size()
	rf := ensemble.NewRandomForest(*trees, *features)
	t0 := time.Now()
	if err := rf.Fit(train); err != nil {
		panic(err)
	}
	trainS := time.Since(t0).Seconds()
	t0 = time.Now()
	pred, err := rf.Predict(test)
	if err != nil {
		panic(err)
	}
	predS := time.Since(t0).Seconds()
	cm, err := evaluation.GetConfusionMatrix(test, pred)
	if err != nil {
		panic(err)
	}
	_, trows := test.Size()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"library": "golearn", "model": "rf", "trees": *trees, "train_rows": nrows, "test": "KDDTest+.txt",
		"accuracy": evaluation.GetAccuracy(cm), "train_seconds": trainS,
		"predict_rows_per_s": float64(trows) / predS, "peak_rss_mb": peakRSSMB(),
	})
}
