// Command randread measures reads of one file for the benchmark: random
// 4 KiB reads per second, or the time of one read at an offset.
//
//	randread -file F -random 5s            random 4 KiB preads for 5 s; prints reads/s
//	randread -file F -at 0.5 -size 1MiB    one read of 1 MiB at half the file; prints seconds
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	file := flag.String("file", "", "file to read")
	random := flag.Duration("random", 0, "do random 4 KiB reads for this long")
	at := flag.Float64("at", -1, "read once at this fraction of the file")
	size := flag.Int("size", 1<<20, "bytes for -at")
	flag.Parse()
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	switch {
	case *random > 0:
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 4096)
		n := 0
		start := time.Now()
		for time.Since(start) < *random {
			off := rng.Int64N(fi.Size()-4096) &^ 4095
			if _, err := f.ReadAt(buf, off); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			n++
		}
		fmt.Printf("%.0f\n", float64(n)/time.Since(start).Seconds())
	case *at >= 0:
		buf := make([]byte, *size)
		off := int64(float64(fi.Size()) * *at)
		start := time.Now()
		if _, err := f.ReadAt(buf, off); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%.6f\n", time.Since(start).Seconds())
	default:
		flag.Usage()
		os.Exit(2)
	}
}
