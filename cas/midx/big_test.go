package midx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pack"
)

// gen is a pack of n generated records, computed on demand so that a test
// of millions of records holds none of them: record i of pack p (of k) is
// object g = i*k+p of n*k, whose id spreads g evenly over the id space.
type gen struct{ n, k, p int }

const genLen = 1000

func (g gen) Len() int { return g.n }

func (g gen) Entry(i int) (pack.Entry, error) {
	n := uint64(i*g.k + g.p)
	e := pack.Entry{Kind: cas.KindChunk, Offset: pack.HeaderSize + int64(i)*(pack.EntryHeaderSize+genLen), RawLen: genLen, StoredLen: genLen}
	binary.BigEndian.PutUint64(e.ID[0:8], n*(math.MaxUint64/uint64(g.n*g.k)))
	binary.BigEndian.PutUint64(e.ID[8:16], n)
	return e, nil
}

func genPacks(total, k int) []Pack {
	var packs []Pack
	for p := range k {
		g := gen{n: total / k, k: k, p: p}
		packs = append(packs, Pack{ID: cas.Sum([]byte{byte(p), byte(p >> 8)}), Size: pack.HeaderSize + int64(g.n)*(pack.EntryHeaderSize+genLen), Records: g})
	}
	return packs
}

// swapLast is a gen whose last two records are swapped.
type swapLast struct{ gen }

func (s swapLast) Entry(i int) (pack.Entry, error) {
	if i >= s.n-2 {
		i = 2*s.n - 3 - i
	}
	return s.gen.Entry(i)
}

// TestWriteChecksFirst gives Write a pack of 10,000 records (more than
// its buffer holds) whose last two are out of order: it must fail before
// writing a byte.
func TestWriteChecksFirst(t *testing.T) {
	p := genPacks(10_000, 1)[0]
	p.Records = swapLast{p.Records.(gen)}
	var buf bytes.Buffer
	if _, err := Write(&buf, []Pack{p}); !errors.Is(err, pack.ErrFormat) || buf.Len() != 0 {
		t.Fatalf("Write = %v after %d bytes, want ErrFormat before any", err, buf.Len())
	}
}

// measure returns the number and bytes of heap allocations Write makes.
func measure(t *testing.T, packs []Pack) (mallocs, bytes uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := Write(countWriter{}, packs); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
}

// countWriter discards, without the io.Discard fast paths.
type countWriter struct{}

func (countWriter) Write(b []byte) (int, error) { return len(b), nil }

// TestWriteMemory writes 10,000 and 1,000,000 records of 16 packs: the
// allocations, in number and bytes, must be the same, so Write streams.
func TestWriteMemory(t *testing.T) {
	const k = 16
	measure(t, genPacks(1000, k)) // warm up
	smallN, smallB := measure(t, genPacks(10_000, k))
	bigN, bigB := measure(t, genPacks(1_000_000, k))
	t.Logf("Write of 16 packs: 10,000 records: %d allocations, %d bytes; 1,000,000 records: %d allocations, %d bytes", smallN, smallB, bigN, bigB)
	// A hundred times the records: anything that grew with them would
	// cost megabytes; a few runtime allocations (timers, the race
	// detector) may land in either window.
	if bigN > 2*smallN || bigB > smallB+64<<10 {
		t.Fatalf("allocations grow with the records: %d (%d bytes) for 10,000, %d (%d bytes) for 1,000,000", smallN, smallB, bigN, bigB)
	}
	if bigB > 1<<20 {
		t.Fatalf("Write of 16 packs allocates %d bytes", bigB)
	}
}

// TestMillion checks the index of 1,000,000 records of 16 packs through
// lookups of a sample of present and absent ids.
func TestMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 56 MB")
	}
	const total, k = 1_000_000, 16
	packs := genPacks(total, k)
	b, _ := write(t, packs)
	ix := open(t, b)
	if ix.Len() != total || len(ix.Packs()) != k {
		t.Fatalf("Len %d, %d packs", ix.Len(), len(ix.Packs()))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		p := rng.IntN(k)
		i := rng.IntN(total / k)
		e, _ := packs[p].Records.Entry(i)
		var got []Location
		for l := range ix.Lookup(e.ID) {
			got = append(got, l)
		}
		if len(got) != 1 || got[0].Entry != e || got[0].Pack != packs[p].ID {
			t.Fatalf("Lookup of record %d of pack %d = %+v, want %+v", i, p, got, e)
		}
		absent := e.ID
		absent[31] = 1
		if _, n := ix.Find(absent); n != 0 {
			t.Fatalf("found absent %x", absent[:16])
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	const total, k = 1_000_000, 16
	packs := genPacks(total, k)
	var buf bytes.Buffer
	if _, err := Write(&buf, packs); err != nil {
		b.Fatal(err)
	}
	ix, err := Open(buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]cas.ID, 1<<16)
	for j := range ids {
		ids[j] = ix.At(rng.IntN(total)).Entry.ID
	}
	b.Run("present", func(b *testing.B) {
		b.ReportAllocs()
		j := 0
		for b.Loop() {
			n := 0
			for range ix.Lookup(ids[j&(len(ids)-1)]) {
				n++
			}
			if n != 1 {
				b.Fatal("not found")
			}
			j++
		}
	})
	b.Run("absent", func(b *testing.B) {
		b.ReportAllocs()
		j := 0
		for b.Loop() {
			id := ids[j&(len(ids)-1)]
			id[31] = 1
			if _, n := ix.Find(id); n != 0 {
				b.Fatal("found")
			}
			j++
		}
	})
}
