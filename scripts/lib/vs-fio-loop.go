//go:build ignore

// vs-fio-loop.go is the fallback for vs-fio-loop.c when no C compiler is installed: the same loop (random
// file from LIST, open + pread BYTES at offset 0 + close, for SECONDS) and the same JSON line, with "impl":
// "go". Go adds its syscall entry/exit bookkeeping to each of the three syscalls, so it is a slightly lower
// anchor than C.
//
//	go build -o vs-fio-loop scripts/lib/vs-fio-loop.go && ./vs-fio-loop SECONDS LIST [BYTES]
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintf(os.Stderr, "usage: %s SECONDS LIST [BYTES]\n", os.Args[0])
		os.Exit(2)
	}
	secs, err := strconv.ParseFloat(os.Args[1], 64)
	bytes := 4096
	if len(os.Args) > 3 {
		bytes, _ = strconv.Atoi(os.Args[3])
	}
	lf, ferr := os.Open(os.Args[2])
	if err != nil || ferr != nil || secs <= 0 || bytes < 1 || bytes > 1<<20 {
		fmt.Fprintf(os.Stderr, "vs-fio-loop: bad arguments or cannot read %s\n", os.Args[2])
		os.Exit(2)
	}
	var paths []string
	sc := bufio.NewScanner(lf)
	for sc.Scan() {
		if t := sc.Text(); t != "" {
			paths = append(paths, t)
		}
	}
	lf.Close()
	if len(paths) == 0 {
		fmt.Fprintf(os.Stderr, "vs-fio-loop: %s lists no files\n", os.Args[2])
		os.Exit(2)
	}
	buf := make([]byte, bytes)
	x, files := uint64(0x9e3779b97f4a7c15), uint64(0)
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	t0 := time.Now()
	deadline := t0.Add(time.Duration(secs * 1e9))
	var el time.Duration
	for {
		for k := 0; k < 256; k++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			p := paths[x%uint64(len(paths))]
			fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
				os.Exit(1)
			}
			if _, err := syscall.Pread(fd, buf, 0); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
				os.Exit(1)
			}
			syscall.Close(fd)
			files++
		}
		if now := time.Now(); !now.Before(deadline) {
			el = now.Sub(t0)
			break
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
	fmt.Printf("{\"files\": %d, \"seconds\": %.6f, \"files_per_sec\": %.1f, \"cpu_ns_per_file\": %.1f, \"set\": %d, \"impl\": \"go\"}\n",
		files, el.Seconds(), float64(files)/el.Seconds(), float64(cpu.Nanoseconds())/float64(files), len(paths))
}
