package main

// gen files: a folder of many small files, for the many-files benchmark
// (bench/manyfiles.sh).
//
//	gen files -n 100000 -dir DIR [-seed S] [-size small|tiny] [-change PCT]
//
// File i (0 <= i < n) is DIR/<i/100>/<i>.csv for even i (text: CSV-like
// rows with ids, timestamps, names, cities, words; it compresses) and
// DIR/<i/100>/<i>.bin for odd i (PCG bytes, incompressible, like images),
// so every folder holds 100 files, half of each kind. Folder names have at
// least 3 digits, file names at least 4 (data/000/0000.csv, data/000/0001.bin,
// ...), both zero-padded to the width n needs. Sizes are uniform in
// 2-24 KiB (-size small) or 16-256 bytes (-size tiny; text files then have
// no header line, so that no two files are alike).
//
// Every file is a pure function of (seed, i, version): the same flags always
// write the same bytes. With -change PCT, only about PCT% of the files (chosen
// by a hash of seed and i, so both kinds and every folder are hit) are
// written again with version 1 content (new size, new bytes), each through
// a temporary file and a rename, so that a hard link to the old file keeps
// the old content and the file is replaced as git would replace it.

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

func cmdFiles(args []string) error {
	fs := flag.NewFlagSet("files", flag.ExitOnError)
	n := fs.Int("n", 100000, "number of files")
	dir := fs.String("dir", "", "output directory (created)")
	seed := fs.Uint64("seed", 1, "seed")
	size := fs.String("size", "small", "file sizes: small (2-24 KiB) or tiny (16-256 bytes)")
	change := fs.Float64("change", 0, "rewrite about this percentage of the files (version 1) instead of writing them all")
	fs.Parse(args)
	if *dir == "" {
		return errors.New("files: -dir is required")
	}
	if *n <= 0 {
		return errors.New("files: -n must be > 0")
	}
	var lo, hi int
	switch *size {
	case "small":
		lo, hi = 2<<10, 24<<10
	case "tiny":
		lo, hi = 16, 256
	default:
		return fmt.Errorf("files: -size must be small or tiny, not %q", *size)
	}
	if *change < 0 || *change > 100 {
		return errors.New("files: -change must be a percentage")
	}
	dw := max(3, len(strconv.Itoa((*n-1)/100)))
	fw := max(4, len(strconv.Itoa(*n-1)))
	g := &fileGen{seed: *seed, lo: lo, hi: hi}

	// Folders first (one goroutine), then the files by a few workers: the
	// content never depends on the order.
	if *change == 0 {
		for d := 0; d <= (*n-1)/100; d++ {
			if err := os.MkdirAll(filepath.Join(*dir, fmt.Sprintf("%0*d", dw, d)), 0o755); err != nil {
				return err
			}
		}
	}
	const workers = 4
	var next atomic.Int64
	var files, text, bytes atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var buf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				version := uint64(0)
				if *change > 0 {
					if float64(mix(*seed, uint64(i))%10000) >= *change*100 {
						continue
					}
					version = 1
				}
				ext := ".bin"
				if i%2 == 0 {
					ext = ".csv"
				}
				name := filepath.Join(*dir, fmt.Sprintf("%0*d", dw, i/100), fmt.Sprintf("%0*d%s", fw, i, ext))
				buf = g.content(buf[:0], uint64(i), version)
				var err error
				if version == 0 {
					err = os.WriteFile(name, buf, 0o644)
				} else {
					err = replaceFile(name, buf)
				}
				if err != nil {
					errs[w] = err
					return
				}
				files.Add(1)
				bytes.Add(int64(len(buf)))
				if i%2 == 0 {
					text.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Printf("files=%d text=%d binary=%d bytes=%d size=%s change_pct=%g\n",
		files.Load(), text.Load(), files.Load()-text.Load(), bytes.Load(), *size, *change)
	return nil
}

// replaceFile writes b to a temporary file next to name and renames it over
// name.
func replaceFile(name string, b []byte) error {
	tmp := name + ".gen-tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// mix is a 64-bit hash of (seed, i) (splitmix64 finaliser).
func mix(seed, i uint64) uint64 {
	z := seed*0x9e3779b97f4a7c15 ^ (i + 0x632be59bd9b4e019)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

type fileGen struct {
	seed   uint64
	lo, hi int
}

// content appends file i's bytes (version v) to b.
func (g *fileGen) content(b []byte, i, v uint64) []byte {
	r := rand.New(rand.NewPCG(mix(g.seed, i), v*0x5851f42d4c957f2d+0x6c6f6465))
	size := g.lo + r.IntN(g.hi-g.lo+1)
	if i%2 == 1 {
		for len(b) < size {
			x := r.Uint64()
			for k := 0; k < 8 && len(b) < size; k++ {
				b = append(b, byte(x>>(8*k)))
			}
		}
		return b
	}
	if size >= 1024 { // tiny files are rows only: a header would make them alike
		b = append(b, "id,timestamp,first_name,last_name,city,status,amount,comment\n"...)
	}
	ts := int64(1_700_000_000) + int64(i)*3600 + r.Int64N(3600)
	for row := uint64(0); len(b) < size; row++ {
		b = strconv.AppendUint(b, i*100000+row, 10)
		b = append(b, ',')
		ts += 1 + r.Int64N(120)
		b = appendISO(b, ts)
		b = append(b, ',')
		b = append(b, firstNames[r.IntN(len(firstNames))]...)
		b = append(b, ',')
		b = append(b, lastNames[r.IntN(len(lastNames))]...)
		b = append(b, ',')
		b = append(b, cities[r.IntN(len(cities))]...)
		b = append(b, ',')
		b = append(b, statuses[r.IntN(len(statuses))]...)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.Int64N(100000), 10)
		b = append(b, '.')
		b = appendFrac(b, uint64(r.IntN(100)), 2)
		b = append(b, ',')
		for w, nw := 0, 3+r.IntN(6); w < nw; w++ {
			if w > 0 {
				b = append(b, ' ')
			}
			b = append(b, words[r.IntN(len(words))]...)
		}
		b = append(b, '\n')
	}
	b = b[:size]
	b[size-1] = '\n'
	return b
}

// appendISO appends the UTC time t (Unix seconds) as 2006-01-02T15:04:05Z,
// without the time package's allocations.
func appendISO(b []byte, t int64) []byte {
	days, secs := t/86400, t%86400
	// civil from days (Howard Hinnant's algorithm)
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	b = appendFrac(b, uint64(y), 4)
	b = append(b, '-')
	b = appendFrac(b, uint64(m), 2)
	b = append(b, '-')
	b = appendFrac(b, uint64(d), 2)
	b = append(b, 'T')
	b = appendFrac(b, uint64(secs/3600), 2)
	b = append(b, ':')
	b = appendFrac(b, uint64(secs/60%60), 2)
	b = append(b, ':')
	b = appendFrac(b, uint64(secs%60), 2)
	return append(b, 'Z')
}

var firstNames = []string{
	"Ada", "Alan", "Alice", "Amir", "Anna", "Ben", "Bo", "Carla", "Chen", "Chloe", "Dan", "Dara", "Eva", "Emil",
	"Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jade", "Jon", "Kai", "Kim", "Lars", "Lea", "Leo",
	"Lina", "Luca", "Maya", "Mia", "Nadia", "Noah", "Nora", "Omar", "Oskar", "Pia", "Priya", "Quinn", "Rafael",
	"Rosa", "Sam", "Sara", "Tariq", "Tess", "Theo", "Uma", "Vera", "Wei", "Yara", "Yusuf", "Zoe", "Zane",
}

var lastNames = []string{
	"Andersen", "Baker", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Hansen", "Ito", "Jansen", "Kowalski",
	"Larsen", "Martin", "Nakamura", "Novak", "Okafor", "Petrov", "Quist", "Rossi", "Schmidt", "Silva", "Tanaka",
	"Ulrich", "Varga", "Wagner", "Weber", "Xu", "Yilmaz", "Zhang", "Lopez", "Moreau", "Nielsen", "Olsen", "Park",
}

var cities = []string{
	"Amsterdam", "Athens", "Berlin", "Bogota", "Cairo", "Chicago", "Dublin", "Hanoi", "Helsinki", "Lagos", "Lima",
	"Lisbon", "London", "Madrid", "Montreal", "Mumbai", "Nairobi", "Osaka", "Oslo", "Paris", "Prague", "Seoul",
	"Sydney", "Tokyo", "Toronto", "Vienna", "Warsaw", "Zurich",
}

var statuses = []string{"ok", "ok", "ok", "pending", "failed", "retry", "cancelled", "shipped"}

var words = []string{
	"the", "of", "and", "to", "in", "is", "for", "on", "with", "as", "was", "at", "by", "from", "sensor", "reading",
	"order", "delivery", "late", "early", "customer", "called", "about", "invoice", "payment", "received", "sent",
	"again", "after", "before", "window", "door", "north", "south", "east", "west", "batch", "sample", "value",
	"high", "low", "normal", "check", "failed", "passed", "manual", "automatic", "update", "device", "battery",
	"replaced", "signal", "weak", "strong", "network", "error", "timeout", "retry", "queued", "processed",
	"warehouse", "shelf", "box", "pallet", "truck", "route", "driver", "weather", "rain", "snow", "sunny", "wind",
	"temperature", "pressure", "humidity", "calibrated", "noted", "see", "ticket", "priority", "minor", "major",
	"please", "confirm", "expected", "arrived", "missing", "damaged", "returned", "refund", "approved", "rejected",
	"morning", "evening", "night", "weekend", "holiday", "shift", "team", "lead", "review", "pending", "closed",
}

// cmdTextCSV writes one large CSV of text-heavy rows (the rows of the text
// files: ids, ISO timestamps, first and last names, cities, statuses,
// amounts, a comment of words), the kind of table whose ingest is bound
// by compression rather than hashing (zstd -1 makes it about 2.8 times
// smaller).
func cmdTextCSV(args []string) error {
	fs := flag.NewFlagSet("textcsv", flag.ExitOnError)
	size := fs.String("size", "1G", "approximate size")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("out", "", "output file")
	fs.Parse(args)
	target, err := parseSize(*size)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("textcsv: -out is required")
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	g := &fileGen{seed: *seed, lo: 1 << 20, hi: 1 << 20}
	var block []byte
	for i, n := uint64(0), int64(0); n < target; i += 2 { // even numbers: text
		block = g.content(block[:0], i, 0)
		if i > 0 { // one header only
			if j := bytes.IndexByte(block, '\n'); j >= 0 {
				block = block[j+1:]
			}
		}
		if rest := target - n; int64(len(block)) > rest {
			block = block[:rest]
			if len(block) > 0 {
				block[len(block)-1] = '\n'
			}
		}
		if _, err := w.Write(block); err != nil {
			return err
		}
		n += int64(len(block))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
