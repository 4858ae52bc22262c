// Command gen writes the deterministic test data that bench/run.sh uses.
//
//	gen random -size 1GiB [-seed N] [-o FILE]   incompressible bytes (stdout by default)
//	gen csv -size 1GiB [-seed N] -dir DIR         v1.csv .. v4.csv, the four CSV versions
//	gen files -n 100000 -dir DIR [-seed N] [-size small|tiny] [-change PCT]
//	                                              many small files (see files.go)
//	gen textcsv -size 1G -out FILE [-seed N]      one text-heavy CSV; a larger size appends rows
//	gen model -size 256M -version V -out FILE [-change PCT] [-tensor FLOATS] [-seed N]
//	                                              version V of a float32 checkpoint (see model.go)
//
// The CSV versions are:
//
//	v1  a header and about SIZE bytes of rows of numeric columns (~45-55 bytes a row)
//	v2  v1 with 1% more rows appended
//	v3  v2 with a contiguous block of 0.1% of the rows, in the middle, rewritten
//	    with different values of similar length
//	v4  v3 with a 100-byte line inserted right after the header
//
// Every row is a pure function of (seed, row number, variant), so the four
// files are written in a single pass and share exactly the bytes they should.
// Sizes accept a plain byte count or a suffix K, M, G (powers of 1024; "KiB",
// "MiB", "GiB" and "KB", "MB", "GB" are read the same way).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "random":
		err = cmdRandom(os.Args[2:])
	case "csv":
		err = cmdCSV(os.Args[2:])
	case "files":
		err = cmdFiles(os.Args[2:])
	case "textcsv":
		err = cmdTextCSV(os.Args[2:])
	case "model":
		err = cmdModel(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gen random -size N [-seed S] [-o FILE]\n       gen csv -size N [-seed S] -dir DIR\n       gen files -n N -dir DIR [-seed S] [-size small|tiny] [-change PCT]\n       gen textcsv -size N -out FILE [-seed S]\n       gen model -size N -version V -out FILE [-change PCT] [-tensor FLOATS] [-seed S]")
	os.Exit(2)
}

// parseSize reads "1024", "64M", "1GiB", "10G".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}

func cmdRandom(args []string) error {
	fs := flag.NewFlagSet("random", flag.ExitOnError)
	size := fs.String("size", "", "bytes to write (e.g. 1G)")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("o", "-", "output file, - for stdout")
	fs.Parse(args)
	n, err := parseSize(*size)
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return writeRandom(w, n, *seed)
}

// writeRandom writes n bytes from a PCG stream in 1 MiB blocks. PCG output
// does not compress (zstd keeps it raw).
func writeRandom(w io.Writer, n int64, seed uint64) error {
	g := rand.NewPCG(seed, 0x6c6f6465)
	buf := make([]byte, 1<<20)
	for n > 0 {
		for i := 0; i < len(buf); i += 8 {
			v := g.Uint64()
			buf[i] = byte(v)
			buf[i+1] = byte(v >> 8)
			buf[i+2] = byte(v >> 16)
			buf[i+3] = byte(v >> 24)
			buf[i+4] = byte(v >> 32)
			buf[i+5] = byte(v >> 40)
			buf[i+6] = byte(v >> 48)
			buf[i+7] = byte(v >> 56)
		}
		k := int64(len(buf))
		if k > n {
			k = n
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

const csvHeader = "id,timestamp,sensor,value,delta\n"

// appendRow formats row i. variant 0 is the original content; variant 1 is
// the rewritten block of v3/v4 (same id, different values, similar length).
func appendRow(b []byte, g *rand.PCG, seed, i uint64, variant uint64) []byte {
	g.Seed(seed^variant*0x9e3779b97f4a7c15, i)
	r1, r2 := g.Uint64(), g.Uint64()
	b = strconv.AppendUint(b, i, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, 1_600_000_000+i*3+r1%3, 10) // timestamp
	b = append(b, ',')
	b = strconv.AppendUint(b, (r1>>8)%1000, 10) // sensor id
	b = append(b, ',')
	// value: signed, 4 decimals, magnitude up to 99999.9999
	v := (r1 >> 20) % 1_000_000_000
	if r2&1 == 1 {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, v/10000, 10)
	b = append(b, '.')
	b = appendFrac(b, v%10000, 4)
	b = append(b, ',')
	// delta: 0.000000 .. 9.999999
	d := (r2 >> 8) % 10_000_000
	b = strconv.AppendUint(b, d/1_000_000, 10)
	b = append(b, '.')
	b = appendFrac(b, d%1_000_000, 6)
	return append(b, '\n')
}

func appendFrac(b []byte, v uint64, digits int) []byte {
	var tmp [20]byte
	for i := digits - 1; i >= 0; i-- {
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[:digits]...)
}

func cmdCSV(args []string) error {
	fs := flag.NewFlagSet("csv", flag.ExitOnError)
	size := fs.String("size", "", "approximate size of v1 (e.g. 1G)")
	seed := fs.Uint64("seed", 1, "seed")
	dir := fs.String("dir", "", "output directory for v1.csv..v4.csv")
	fs.Parse(args)
	target, err := parseSize(*size)
	if err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("csv: -dir is required")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}

	// Fix the row count so that v1 comes out close to SIZE: estimate the mean
	// row length from rows spread over the expected range (ids grow longer),
	// and refine a few times.
	g := rand.NewPCG(0, 0)
	var row []byte
	n1 := uint64(target/48) + 1
	for iter := 0; iter < 4; iter++ {
		const nSample = 20000
		var sample int64
		for k := uint64(0); k < nSample; k++ {
			row = appendRow(row[:0], g, *seed, k*n1/nSample, 0)
			sample += int64(len(row))
		}
		n1 = uint64((target-int64(len(csvHeader)))*nSample/sample) + 1
	}
	if n1 < 1000 {
		n1 = 1000
	}
	n2 := n1 + n1/100             // v2: 1% more rows
	editLen := n2 / 1000          // v3: 0.1% of the rows ...
	editStart := n1/2 - editLen/2 // ... in the middle
	editEnd := editStart + editLen

	insert := make([]byte, 0, 100) // v4: 100 bytes after the header
	insert = append(insert, "0,0,0,0.0000,0."...)
	for len(insert) < 99 {
		insert = append(insert, '0')
	}
	insert = append(insert, '\n')

	var ws [4]*bufio.Writer
	var fs4 [4]*os.File
	for k := range ws {
		f, err := os.Create(filepath.Join(*dir, fmt.Sprintf("v%d.csv", k+1)))
		if err != nil {
			return err
		}
		fs4[k] = f
		ws[k] = bufio.NewWriterSize(f, 1<<20)
		ws[k].WriteString(csvHeader)
	}
	ws[3].Write(insert)

	var alt []byte
	for i := uint64(0); i < n2; i++ {
		row = appendRow(row[:0], g, *seed, i, 0)
		if i < n1 {
			ws[0].Write(row)
		}
		ws[1].Write(row)
		if i >= editStart && i < editEnd {
			alt = appendRow(alt[:0], g, *seed, i, 1)
			ws[2].Write(alt)
			ws[3].Write(alt)
		} else {
			ws[2].Write(row)
			ws[3].Write(row)
		}
	}
	for k := range ws {
		if err := ws[k].Flush(); err != nil {
			return err
		}
		if err := fs4[k].Close(); err != nil {
			return err
		}
	}
	fmt.Printf("rows_v1=%d rows_v2=%d edit_rows=%d edit_start=%d insert_bytes=%d\n",
		n1, n2, editLen, editStart, len(insert))
	return nil
}
