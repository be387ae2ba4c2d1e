// gotext.go — writes the Go runtime's debug=1 text profiles (heap, allocs, goroutine,
// threadcreate, mutex, block) into the directory argv[1], as NAME.txt.
//
// Built and run by tests/integration/test_legacy.py, which reads each text with prof_parse and
// with go tool pprof and compares them. The heap is sampled (MemProfileRate 512) so that the
// readers must unbias it; three goroutines carry a label set, so the goroutine text has
// "# labels:" lines; mutex and block profiles record every event, and there is contention.
package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var keep [][]byte
var sink []byte

//go:noinline
func allocSmall(n int) {
	for i := 0; i < n; i++ {
		keep = append(keep, make([]byte, 64))
	}
}

//go:noinline
func allocBig(n int) {
	for i := 0; i < n; i++ {
		keep = append(keep, make([]byte, 1<<16))
	}
}

//go:noinline
func churn(n int) {
	for i := 0; i < n; i++ {
		sink = make([]byte, 4096)
	}
}

func contend() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				mu.Lock()
				time.Sleep(20 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func block() {
	ch := make(chan int)
	go func() { time.Sleep(5 * time.Millisecond); ch <- 1 }()
	<-ch
}

func main() {
	runtime.MemProfileRate = 512
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	allocSmall(2000)
	allocBig(50)
	churn(1000)
	contend()
	block()
	stop := make(chan struct{})
	for i := 0; i < 3; i++ {
		pprof.Do(context.Background(), pprof.Labels("worker", "w"), func(context.Context) {
			go func() { <-stop }()
		})
	}
	go func() { <-stop }()
	runtime.GC()
	for _, name := range []string{"heap", "allocs", "goroutine", "threadcreate", "mutex", "block"} {
		f, err := os.Create(filepath.Join(os.Args[1], name+".txt"))
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup(name).WriteTo(f, 1); err != nil {
			panic(err)
		}
		f.Close()
	}
	close(stop)
}
