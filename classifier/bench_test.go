package classifier

import (
	"fmt"
	"github.com/flowhawk/flowhawk/internal/testshared"
	"math"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// cpuSeconds is the process's user+system CPU time: on the shared, loaded
// machine, flows per CPU-second is a steadier throughput figure than wall
// time (multiply by the cores for the throughput of an idle machine).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// threadCPUNanos is the calling thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID, exact to the nanosecond, where getrusage
// counts scheduler ticks): unlike the process's, it leaves out the garbage
// collector and the benchmark harness, and (like it) the time the machine
// ran someone else.
func threadCPUNanos() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

var benchOnce struct {
	sync.Once
	model *Model
	err   error
}

var benchFramesOnce struct {
	sync.Once
	train, test *Frame
	err         error
}

// benchFrames loads KDDTrain+ and KDDTest+ (5 classes) once per process.
func benchFrames(b testing.TB) (*Frame, *Frame) {
	dir := testshared.Path(b, "datasets/nsl-kdd")
	o := &benchFramesOnce
	o.Do(func() {
		if o.train, o.err = ReadFiles([]string{filepath.Join(dir, "KDDTrain+.txt")}, ReadOptions{NSLKDDClasses: 5}); o.err != nil {
			return
		}
		o.test, o.err = ReadFiles([]string{filepath.Join(dir, "KDDTest+.txt")}, ReadOptions{NSLKDDClasses: 5})
	})
	if o.err != nil {
		b.Fatal(o.err)
	}
	return o.train, o.test
}

// benchData loads KDDTrain+ and KDDTest+ (5 classes) and trains the
// 100-tree forest the predict benchmark uses, once per process.
func benchData(b testing.TB) (*Frame, *Frame, *Model) {
	train, test := benchFrames(b)
	benchOnce.Do(func() {
		benchOnce.model, benchOnce.err = Train(train, Config{Kind: "rf", Trees: 100, Seed: 1})
	})
	if benchOnce.err != nil {
		b.Fatal(benchOnce.err)
	}
	return train, test, benchOnce.model
}

// BenchmarkForestTrain trains a 100-tree random forest on all 125,973
// KDDTrain+ rows with every core.
func BenchmarkForestTrain(b *testing.B) {
	train, _, _ := benchData(b)
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if _, err := Train(train, Config{Kind: "rf", Trees: 100, Seed: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(train.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

// BenchmarkForestPredict classifies KDDTest+ rows one at a time through a
// Binder (the live path) on all cores with the 100-tree forest.
func BenchmarkForestPredict(b *testing.B) {
	_, test, m := benchData(b)
	raw, err := m.Pre.codes(test)
	if err != nil {
		b.Fatal(err)
	}
	nc := len(m.Pre.Columns)
	bind, err := m.Bind(m.Features())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var threadNs atomic.Int64
	start, cpu0 := time.Now(), cpuSeconds()
	b.RunParallel(func(pb *testing.PB) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		t0 := threadCPUNanos()
		i := 0
		for pb.Next() {
			r := i % test.Rows
			bind.Predict(raw[r*nc : r*nc+nc])
			i++
		}
		threadNs.Add(threadCPUNanos() - t0)
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flows/s")
	b.ReportMetric(float64(b.N)/(cpuSeconds()-cpu0), "flows/cpu-s")
	b.ReportMetric(float64(threadNs.Load())/float64(b.N), "cpu-ns/flow")
}

// BenchmarkGBDTTrain boosts 20 rounds of depth-6 trees on all 125,973
// KDDTrain+ rows with every core, for 5 classes (100 trees) and for
// normal/attack (20 trees); the CLI default of 100 rounds takes five times
// as long.
func BenchmarkGBDTTrain(b *testing.B) {
	train5, _ := benchFrames(b)
	train2 := *train5
	train2.Labels = make([]string, len(train5.Labels))
	for i, l := range train5.Labels {
		train2.Labels[i] = "attack"
		if l == "normal" {
			train2.Labels[i] = l
		}
	}
	for _, c := range []struct {
		name  string
		train *Frame
	}{{"classes=5", train5}, {"classes=2", &train2}} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := Train(c.train, Config{Kind: "gbdt", Trees: 20, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.train.Rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}

// TestChainedWalkMatchesGroupWalk checks that the chained walk gives the
// same class probabilities, to the bit, as the walk in groups of eight, for
// forests with fewer trees than walkers, a tree count not a multiple of
// eight, and more classes than sumLeaves8 handles.
func TestChainedWalkMatchesGroupWalk(t *testing.T) {
	quad := quadrants(400, 3)
	tenths := quadrants(400, 4)
	for i := range tenths.Labels {
		tenths.Labels[i] = fmt.Sprintf("c%d", int(tenths.Num[0][i]*10))
	}
	for _, f := range []*Frame{quad, tenths} {
		for _, trees := range []int{1, 3, 8, 13, 40} {
			m := trainOrFatal(t, f, Config{Kind: "rf", Trees: trees, Seed: 5})
			fr := m.est.(*forest)
			if fr.chain == nil {
				t.Fatalf("%d trees: no chained walk", trees)
			}
			k := len(m.Classes)
			got, want := make([]float64, k), make([]float64, k)
			x := make([]float64, m.Pre.Width())
			raw := make([]float64, len(m.Pre.Columns))
			for r := 0; r < f.Rows; r++ {
				for c := range raw {
					raw[c] = f.Num[c][r]
				}
				m.Pre.Transform(raw, x)
				fr.predict(x, got, nil)
				chain := fr.chain
				fr.chain = nil
				fr.predict(x, want, nil)
				fr.chain = chain
				for c := range got {
					if math.Float64bits(got[c]) != math.Float64bits(want[c]) {
						t.Fatalf("%d classes, %d trees, row %d: chained %v, grouped %v", k, trees, r, got, want)
					}
				}
			}
		}
	}
}
