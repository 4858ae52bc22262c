package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
)

// cmdModel writes version v of a model checkpoint: little-endian float32
// weights drawn from N(0, 0.02²), as trained networks' weights roughly
// are. Version 0 is the initial checkpoint; each later version changes a
// further -change percent of the weights, in whole tensors of -tensor
// floats at positions fixed by (seed, version) (a retrain that updates
// some layers and leaves the others, or fine-tuning of the top layers).
// Changes scattered float by float, as a full retrain makes, leave no
// chunk intact: no chunk-level dedup (lode's, Xet's or DVC's) saves
// anything there.
func cmdModel(args []string) error {
	fs := flag.NewFlagSet("model", flag.ExitOnError)
	size := fs.String("size", "256M", "bytes (a multiple of 4)")
	version := fs.Int("version", 0, "version to write (0: the initial weights)")
	change := fs.Float64("change", 5, "percent of the weights each version changes")
	tensor := fs.Int("tensor", 256<<10, "floats in one tensor (the unit of change)")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("out", "", "output file")
	fs.Parse(args)
	n, err := parseSize(*size)
	if err != nil {
		return err
	}
	if *out == "" || n%4 != 0 || *tensor <= 0 || *version < 0 {
		return errors.New("model: -out is required, -size a multiple of 4, -tensor > 0, -version >= 0")
	}
	w := make([]float32, n/4)
	g := rand.New(rand.NewPCG(*seed, 0x6d6f64656c))
	for i := range w {
		w[i] = float32(g.NormFloat64() * 0.02)
	}
	tensors := (len(w) + *tensor - 1) / *tensor
	per := int(math.Round(float64(tensors) * *change / 100))
	for v := 1; v <= *version; v++ {
		r := rand.New(rand.NewPCG(*seed, uint64(v)))
		for _, t := range r.Perm(tensors)[:per] {
			lo := t * *tensor
			hi := min(lo+*tensor, len(w))
			for i := lo; i < hi; i++ {
				w[i] += float32(r.NormFloat64() * 0.002)
			}
		}
	}
	b := make([]byte, len(w)*4)
	for i, f := range w {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return os.WriteFile(*out, b, 0o644)
}
