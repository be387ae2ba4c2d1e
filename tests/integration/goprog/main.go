// main.go — a small Go program for test_tool_diff.py: it writes a CPU profile (with goroutine
// labels, so -tags and -tagfocus have something to read) and a heap profile (MemProfileRate 1,
// several allocation sizes, so the "bytes" numeric label varies) to the two paths it is given.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var sink []byte
var keep [][]byte
var acc uint64

//go:noinline
func spinA(n int) uint64 {
	var x uint64 = 1
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func spinB(n int) uint64 { return spinA(n/2) + mix(n/2) } // inlined into callers

//go:noinline
func mix(n int) uint64 {
	var x uint64 = 7
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

func work(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		acc += spinA(20000)
		acc += spinB(40000)
		acc += mix(10000)
	}
}

//go:noinline
func allocSmall(n int) {
	for i := 0; i < n; i++ {
		sink = make([]byte, 64)
		if i%10 == 0 {
			keep = append(keep, sink)
		}
	}
}

//go:noinline
func allocLarge(n int) {
	for i := 0; i < n; i++ {
		keep = append(keep, make([]byte, 32<<10))
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goprog cpu.pb.gz heap.pb.gz")
		os.Exit(2)
	}
	runtime.MemProfileRate = 1
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	done := make(chan bool)
	for _, job := range []string{"parse", "render"} {
		go func(job string) {
			pprof.Do(context.Background(), pprof.Labels("job", job, "tier", "backend"),
				func(context.Context) { work(400 * time.Millisecond) })
			done <- true
		}(job)
	}
	work(300 * time.Millisecond)
	<-done
	<-done
	pprof.StopCPUProfile()
	f.Close()
	allocSmall(5000)
	allocLarge(40)
	runtime.GC()
	h, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := pprof.WriteHeapProfile(h); err != nil {
		panic(err)
	}
	h.Close()
	fmt.Println(acc != 0, len(keep))
}
