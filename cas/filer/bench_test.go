package filer

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/lodevcs/lode/cas/store"
)

func benchClean(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		s, err := store.Open(b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		p := s.NewPacker()
		b.StartTimer()
		if _, err := Clean(context.Background(), bytes.NewReader(data), p, s.Codec(), Options{}); err != nil {
			b.Fatal(err)
		}
		if err := p.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

func BenchmarkCleanRandom(b *testing.B) { benchClean(b, randBytes(1, 128<<20)) }
func BenchmarkCleanCSV(b *testing.B)    { benchClean(b, csv(1, 3_500_000)) }

func benchSmudge(b *testing.B, data []byte) {
	s, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := s.NewPacker()
	ptr, err := Clean(context.Background(), bytes.NewReader(data), p, s.Codec(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := Smudge(context.Background(), ptr, s, io.Discard, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSmudgeRandom(b *testing.B) { benchSmudge(b, randBytes(1, 128<<20)) }
func BenchmarkSmudgeCSV(b *testing.B)    { benchSmudge(b, csv(1, 3_500_000)) }
