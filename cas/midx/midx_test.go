package midx

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/zeebo/blake3"
)

// entries is a pack's records held in memory, already in index order.
type entries []pack.Entry

func (es entries) Len() int                        { return len(es) }
func (es entries) Entry(i int) (pack.Entry, error) { return es[i], nil }

// idOf returns an id that starts with first and is otherwise made from n.
func idOf(first byte, n int) cas.ID {
	id := cas.Sum([]byte(fmt.Sprint(n)))
	id[0] = first
	return id
}

// build makes a Pack of one small chunk per id (sorted, laid out one after
// another, an id given twice stored twice); the pack id is made from n.
func build(n int, ids ...cas.ID) Pack {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, cas.ID.Compare)
	var es entries
	off := int64(pack.HeaderSize)
	for i, id := range ids {
		e := pack.Entry{ID: id, Kind: cas.KindChunk, Method: compress.Method(i % 2), Offset: off, RawLen: uint32(100 + i), StoredLen: uint32(90 + i)}
		if i%5 == 4 {
			e.Kind = cas.KindManifest
		}
		es = append(es, e)
		off = e.End()
	}
	return Pack{ID: cas.Sum([]byte(fmt.Sprint("pack", n))), Size: off + int64(n), Records: es}
}

// want is every copy the packs hold, in the order the index keeps them.
func want(packs []Pack) []Location {
	var out []Location
	for _, p := range packs {
		for _, e := range p.Records.(entries) {
			out = append(out, Location{Pack: p.ID, Entry: e})
		}
	}
	slices.SortFunc(out, func(a, b Location) int {
		return cmp.Or(a.Entry.ID.Compare(b.Entry.ID), a.Pack.Compare(b.Pack), cmp.Compare(a.Entry.Offset, b.Entry.Offset))
	})
	return out
}

func write(t testing.TB, packs []Pack) ([]byte, cas.ID) {
	t.Helper()
	var buf bytes.Buffer
	id, err := Write(&buf, packs)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), id
}

func open(t testing.TB, b []byte) *Index {
	t.Helper()
	ix, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Verify(); err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestRoundTrip(t *testing.T) {
	shared := []cas.ID{idOf(0x42, 1), idOf(0x42, 2), idOf(0x80, 3)}
	tests := []struct {
		name  string
		packs []Pack
	}{
		{"no packs", nil},
		{"one empty pack", []Pack{build(1)}},
		{"one pack", []Pack{build(1, idOf(1, 1), idOf(2, 2), idOf(2, 3), idOf(0x10, 4))}},
		{"copies in several packs", []Pack{
			build(1, append(slices.Clone(shared), idOf(0x01, 10), idOf(0x43, 11))...),
			build(2, append(slices.Clone(shared), idOf(0x42, 12))...),
			build(3, shared[0], idOf(0xfe, 13)),
			build(4),
		}},
		{"two copies in one pack", []Pack{build(1, shared[0], shared[0], shared[1]), build(2, shared[0])}},
		{"fanout edges", []Pack{
			build(1, idOf(0x00, 1), idOf(0x00, 2), idOf(0xff, 3), cas.ID{}),
			build(2, idOf(0xff, 3), idOf(0xff, 4), cas.ID{0: 0xff, 31: 0xff}),
		}},
		{"only 0xff", []Pack{build(1, idOf(0xff, 1), idOf(0xff, 2))}},
		{"only 0x00", []Pack{build(1, idOf(0x00, 1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, id := write(t, tt.packs)
			if got := cas.ID(blake3.Sum256(b[:len(b)-ChecksumSize])); got != id {
				t.Fatalf("Write returned %v, the file's checksum is %v", id.Short(), got.Short())
			}
			wantLocs := want(tt.packs)
			if size := HeaderSize + PackRecordSize*len(tt.packs) + FanoutSize + RecordSize*len(wantLocs) + ChecksumSize; len(b) != size {
				t.Fatalf("file of %d bytes, want %d", len(b), size)
			}
			ix := open(t, b)
			if ix.ID() != id || ix.Len() != len(wantLocs) {
				t.Fatalf("ID %v Len %d, want %v %d", ix.ID().Short(), ix.Len(), id.Short(), len(wantLocs))
			}
			packs := ix.Packs()
			if len(packs) != len(tt.packs) || !slices.IsSortedFunc(packs, func(a, b PackInfo) int { return a.ID.Compare(b.ID) }) {
				t.Fatalf("Packs() = %v", packs)
			}
			for _, p := range tt.packs {
				n := slices.IndexFunc(packs, func(pi PackInfo) bool { return pi.ID == p.ID })
				if n < 0 || packs[n].Size != p.Size {
					t.Fatalf("pack %v missing or with the wrong size in %v", p.ID.Short(), packs)
				}
			}
			for i, w := range wantLocs {
				got := ix.At(i)
				w.PackNum = slices.IndexFunc(packs, func(pi PackInfo) bool { return pi.ID == w.Pack })
				if got != w {
					t.Fatalf("At(%d) = %+v, want %+v", i, got, w)
				}
			}
			for _, w := range wantLocs {
				var copies []Location
				for _, l := range wantLocs {
					if l.Entry.ID == w.Entry.ID {
						copies = append(copies, l)
					}
				}
				got := slices.Collect(ix.Lookup(w.Entry.ID))
				if len(got) != len(copies) {
					t.Fatalf("Lookup(%v) gave %d copies, want %d", w.Entry.ID.Short(), len(got), len(copies))
				}
				for i := range got {
					if got[i].Pack != copies[i].Pack || got[i].Entry != copies[i].Entry || packs[got[i].PackNum].ID != got[i].Pack {
						t.Fatalf("Lookup(%v)[%d] = %+v, want %+v", w.Entry.ID.Short(), i, got[i], copies[i])
					}
				}
			}
			for _, absent := range absentIDs(wantLocs) {
				if first, n := ix.Find(absent); n != 0 {
					t.Fatalf("Find(absent %x) = %d, %d", absent[:4], first, n)
				}
				for l := range ix.Lookup(absent) {
					t.Fatalf("Lookup(absent %x) gave %+v", absent[:4], l)
				}
			}
		})
	}
}

// absentIDs returns ids next to those of locs (one more, one less), at both
// ends of the id space, and in the first and last fanout buckets, that
// locs does not hold.
func absentIDs(locs []Location) []cas.ID {
	cands := []cas.ID{{}, {0: 0xff}, {0: 0xff, 31: 0xfe}, {0: 0xff, 31: 0xff}, {31: 1}, idOf(0x00, -1), idOf(0xff, -1), idOf(0x42, -1)}
	for _, l := range locs {
		up, down := l.Entry.ID, l.Entry.ID
		up[31]++
		down[31]--
		cands = append(cands, up, down)
	}
	var out []cas.ID
	for _, c := range cands {
		if !slices.ContainsFunc(locs, func(l Location) bool { return l.Entry.ID == c }) {
			out = append(out, c)
		}
	}
	return out
}

// TestRealPacks indexes packs written by cas/pack and reads every object
// back through the locations Lookup gives.
func TestRealPacks(t *testing.T) {
	objs := func(names ...string) [][]byte {
		var out [][]byte
		for _, n := range names {
			out = append(out, []byte("object "+n))
		}
		return out
	}
	contents := [][][]byte{objs("a", "b", "c"), objs("b", "d"), objs("c", "b", "e", "f")}
	packBytes := map[cas.ID][]byte{}
	var packs []Pack
	for _, objs := range contents {
		var buf bytes.Buffer
		w := pack.NewWriter(&buf)
		for _, o := range objs {
			if err := w.Add(cas.Sum(o), cas.KindChunk, compress.None, len(o), o); err != nil {
				t.Fatal(err)
			}
		}
		id, idx, err := w.Finish()
		if err != nil {
			t.Fatal(err)
		}
		pix, err := pack.ParseIndex(idx)
		if err != nil {
			t.Fatal(err)
		}
		packBytes[id] = buf.Bytes()
		packs = append(packs, FromIndex(pix))
	}
	b, _ := write(t, packs)
	ix := open(t, b)
	if ix.Len() != 9 {
		t.Fatalf("Len() = %d, want 9", ix.Len())
	}
	for name, copies := range map[string]int{"a": 1, "b": 3, "c": 2, "d": 1, "e": 1, "f": 1, "g": 0} {
		id := cas.Sum([]byte("object " + name))
		n := 0
		for l := range ix.Lookup(id) {
			stored, err := pack.ReadEntry(bytes.NewReader(packBytes[l.Pack]), l.Entry, nil)
			if err != nil || cas.Sum(stored) != id {
				t.Fatalf("object %s from pack %v: %v", name, l.Pack.Short(), err)
			}
			n++
		}
		if n != copies {
			t.Errorf("object %s: %d copies, want %d", name, n, copies)
		}
	}
}

func TestRewrite(t *testing.T) {
	shared := idOf(0x42, 1)
	a := build(1, shared, idOf(0x00, 2), idOf(0x10, 3))
	b := build(2, shared, idOf(0x10, 4))
	c := build(3, shared, idOf(0xff, 5))
	d := build(4, shared, idOf(0x10, 3), idOf(0x77, 6))
	baseBytes, _ := write(t, []Pack{a, b, c})
	base := open(t, baseBytes)
	tests := []struct {
		name string
		keep func(PackInfo) bool
		add  []Pack
		same []Pack // Write of these makes the same file
	}{
		{"unchanged", nil, nil, []Pack{a, b, c}},
		{"add", nil, []Pack{d}, []Pack{a, b, c, d}},
		{"drop", func(p PackInfo) bool { return p.ID != b.ID }, nil, []Pack{a, c}},
		{"drop and add", func(p PackInfo) bool { return p.ID != a.ID }, []Pack{d}, []Pack{b, c, d}},
		{"drop all", func(PackInfo) bool { return false }, nil, nil},
		{"replace all", func(PackInfo) bool { return false }, []Pack{d}, []Pack{d}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			id, err := Rewrite(&got, base, tt.keep, tt.add)
			if err != nil {
				t.Fatal(err)
			}
			wantBytes, wantID := write(t, tt.same)
			if id != wantID || !bytes.Equal(got.Bytes(), wantBytes) {
				t.Fatalf("Rewrite made %d bytes (%v), Write %d (%v)", got.Len(), id.Short(), len(wantBytes), wantID.Short())
			}
			open(t, got.Bytes())
		})
	}
	if _, err := Rewrite(io.Discard, base, nil, []Pack{b}); err == nil {
		t.Fatal("Rewrite accepted a pack base already has")
	}
}

type failWriter struct{ after int }

var errDisk = errors.New("disk full")

func (w *failWriter) Write(b []byte) (int, error) {
	if len(b) > w.after {
		n := w.after
		w.after = 0
		return n, errDisk
	}
	w.after -= len(b)
	return len(b), nil
}

type failRecords struct{ entries }

func (f failRecords) Entry(i int) (pack.Entry, error) {
	if i == len(f.entries)-1 {
		return pack.Entry{}, fmt.Errorf("%w: damaged record", pack.ErrFormat)
	}
	return f.entries[i], nil
}

// changing gives first in Write's first pass, second in its second.
type changing struct {
	first, second entries
	lens          int
}

func (c *changing) Len() int {
	c.lens++
	return c.cur().Len()
}

func (c *changing) Entry(i int) (pack.Entry, error) { return c.cur().Entry(i) }

func (c *changing) cur() entries {
	if c.lens > 1 {
		return c.second
	}
	return c.first
}

func TestWriteRejects(t *testing.T) {
	good := build(1, idOf(1, 1), idOf(2, 2), idOf(3, 3))
	with := func(f func(es entries)) Pack {
		p := good
		es := slices.Clone(good.Records.(entries))
		f(es)
		p.Records = es
		return p
	}
	tests := []struct {
		name   string
		packs  []Pack
		format bool // the error wraps pack.ErrFormat
	}{
		{"out of order", []Pack{with(func(es entries) { es[0], es[1] = es[1], es[0] })}, true},
		{"record twice", []Pack{with(func(es entries) { es[1] = es[0] })}, true},
		{"same id, offsets down", []Pack{with(func(es entries) { es[1].ID = es[0].ID; es[0].Offset, es[1].Offset = es[1].Offset, es[0].Offset })}, true},
		{"inside the pack header", []Pack{with(func(es entries) { es[0].Offset = 3 })}, true},
		{"past the pack", []Pack{with(func(es entries) { es[2].Offset = good.Size - 10 })}, true},
		{"stored longer than raw", []Pack{with(func(es entries) { es[1].StoredLen = es[1].RawLen + 1 })}, true},
		{"unknown kind", []Pack{with(func(es entries) { es[1].Kind = 9 })}, true},
		{"record error", []Pack{{ID: good.ID, Size: good.Size, Records: failRecords{good.Records.(entries)}}}, true},
		{"pack smaller than its header", []Pack{{ID: good.ID, Size: 10, Records: entries{}}}, true},
		{"pack twice", []Pack{good, good}, false},
		{"no records", []Pack{{ID: good.ID, Size: good.Size}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Write(&buf, tt.packs)
			if err == nil {
				t.Fatalf("Write accepted it (%d bytes)", buf.Len())
			}
			if tt.format != errors.Is(err, pack.ErrFormat) {
				t.Fatalf("err = %v; wraps pack.ErrFormat: %v, want %v", err, !tt.format, tt.format)
			}
			if buf.Len() != 0 {
				t.Fatalf("Write wrote %d bytes before it found the error", buf.Len())
			}
		})
	}
	// Records that change between the count and the merge.
	for _, tt := range []struct {
		name   string
		second entries
	}{
		{"out of order", entries{good.Records.(entries)[1], good.Records.(entries)[0], good.Records.(entries)[2]}},
		{"other first bytes", entries{{ID: idOf(9, 1), Kind: cas.KindChunk, Offset: pack.HeaderSize, RawLen: 1, StoredLen: 1}}},
		{"more", append(slices.Clone(good.Records.(entries)), pack.Entry{ID: idOf(9, 1), Kind: cas.KindChunk, Offset: pack.HeaderSize, RawLen: 1, StoredLen: 1})},
	} {
		p := good
		p.Records = &changing{first: good.Records.(entries), second: tt.second}
		if _, err := Write(io.Discard, []Pack{p}); err == nil {
			t.Errorf("records changing between passes (%s): no error", tt.name)
		}
	}
	full, _ := write(t, []Pack{good})
	for _, after := range []int{0, HeaderSize + 3, len(full) - RecordSize, len(full) - 1} {
		if _, err := Write(&failWriter{after: after}, []Pack{good}); !errors.Is(err, errDisk) {
			t.Errorf("writer failing after %d bytes: err = %v", after, err)
		}
	}
}

// fixture is a valid file of four packs (sizes 1,000, 2,000, 3,000, and
// an empty one of 4,000) and five records, two of them copies of one
// object; recs is the offset of the records.
func fixture(t testing.TB) (b []byte, recs int) {
	es := func(ids ...cas.ID) entries {
		var out entries
		for i, id := range ids {
			out = append(out, pack.Entry{ID: id, Kind: cas.KindChunk, Offset: int64(pack.HeaderSize + 100*i), RawLen: 50, StoredLen: 40})
		}
		return out
	}
	x := idOf(0x42, 1)
	packs := []Pack{
		{ID: cas.ID{1}, Size: 1000, Records: es(idOf(0x00, 2), x)},
		{ID: cas.ID{2}, Size: 2000, Records: es(x, idOf(0xff, 3))},
		{ID: cas.ID{3}, Size: 3000, Records: es(idOf(0x80, 4))},
		{ID: cas.ID{4}, Size: 4000, Records: es()},
	}
	b, _ = write(t, packs)
	return b, HeaderSize + 4*PackRecordSize + FanoutSize
}

// TestOpenRejects damages each section of a file, recomputing the checksum
// so that only the structure checks can find the damage, and the checksum
// alone.
func TestOpenRejects(t *testing.T) {
	good, recs := fixture(t)
	const packs, fan = HeaderSize, HeaderSize + 4*PackRecordSize
	rec := func(i int) int { return recs + RecordSize*i }
	put32 := func(b []byte, off int, v uint32) { binary.BigEndian.PutUint32(b[off:], v) }
	put64 := func(b []byte, off int, v uint64) { binary.BigEndian.PutUint64(b[off:], v) }
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"empty", func(b []byte) []byte { return nil }},
		{"short", func(b []byte) []byte { return b[:HeaderSize+FanoutSize+ChecksumSize-1] }},
		{"magic", func(b []byte) []byte { b[3] = 'x'; return b }},
		{"version", func(b []byte) []byte { put32(b, 8, 2); return b }},
		{"reserved", func(b []byte) []byte { b[23] = 1; return b }},
		{"pack count", func(b []byte) []byte { put32(b, 12, 5); return b }},
		{"pack count huge", func(b []byte) []byte { put32(b, 12, math.MaxUint32); return b }},
		{"record count", func(b []byte) []byte { put32(b, 16, 4); return b }},
		{"record count huge", func(b []byte) []byte { put32(b, 16, math.MaxUint32); return b }},
		{"truncated", func(b []byte) []byte {
			return append(b[:len(b)-ChecksumSize-1:len(b)-ChecksumSize-1], make([]byte, ChecksumSize)...)
		}},
		{"extended", func(b []byte) []byte {
			return append(b[:len(b)-ChecksumSize:len(b)-ChecksumSize], make([]byte, ChecksumSize+1)...)
		}},
		{"packs out of order", func(b []byte) []byte { b[packs+PackRecordSize] = 0; return b }},
		{"pack twice", func(b []byte) []byte { copy(b[packs+PackRecordSize:], b[packs:packs+32]); return b }},
		{"pack smaller than a header", func(b []byte) []byte { put64(b, packs+3*PackRecordSize+32, pack.HeaderSize-1); return b }},
		{"pack size negative", func(b []byte) []byte { put64(b, packs+3*PackRecordSize+32, 1<<63); return b }},
		{"fanout decreases", func(b []byte) []byte { put32(b, fan+4*0x10, 0); return b }},
		{"fanout over the count", func(b []byte) []byte { put32(b, fan+4*0xff, 6); return b }},
		{"fanout under the count", func(b []byte) []byte { put32(b, fan+4*0xff, 4); put32(b, fan+4*0xfe, 4); return b }},
		{"record outside its fanout range", func(b []byte) []byte {
			for c := 0x42; c < 0x80; c++ {
				put32(b, fan+4*c, 1) // the copies of x, in records 1 and 2, now belong to 0x80's range
			}
			return b
		}},
		{"record in the wrong bucket", func(b []byte) []byte { b[rec(0)] = 0x01; return b }},
		{"records out of order", func(b []byte) []byte { b[rec(1)+1], b[rec(2)+1] = 0xff, 0x00; return b }},
		{"copies out of pack order", func(b []byte) []byte { put32(b, rec(1)+32, 1); put32(b, rec(2)+32, 0); return b }},
		{"record twice", func(b []byte) []byte { copy(b[rec(2):], b[rec(1):rec(2)]); return b }},
		{"pack number out of range", func(b []byte) []byte { put32(b, rec(4)+32, 4); return b }},
		{"record reserved", func(b []byte) []byte { b[rec(3)+55] = 1; return b }},
		{"unknown kind", func(b []byte) []byte { b[rec(3)+52] = 3; return b }},
		{"empty chunk", func(b []byte) []byte { put32(b, rec(3)+44, 0); put32(b, rec(3)+48, 0); return b }},
		{"chunk too long", func(b []byte) []byte { put32(b, rec(3)+44, pack.MaxChunkLen+1); return b }},
		{"stored longer than raw", func(b []byte) []byte { put32(b, rec(3)+48, 51); return b }},
		{"inside the pack header", func(b []byte) []byte { put64(b, rec(3)+36, pack.HeaderSize-1); return b }},
		{"past the pack", func(b []byte) []byte { put64(b, rec(3)+36, 3000-pack.EntryHeaderSize-39); return b }},
		{"offset past the pack", func(b []byte) []byte { put64(b, rec(3)+36, 3001); return b }},
		{"offset negative", func(b []byte) []byte { put64(b, rec(3)+36, 1<<63); return b }},
		{"end overflows", func(b []byte) []byte {
			put64(b, packs+2*PackRecordSize+32, math.MaxInt64)
			put64(b, rec(3)+36, math.MaxInt64-10)
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.damage(bytes.Clone(good))
			if len(b) >= ChecksumSize {
				sum := blake3.Sum256(b[:len(b)-ChecksumSize])
				copy(b[len(b)-ChecksumSize:], sum[:])
			}
			if ix, err := Open(b); !errors.Is(err, ErrFormat) || !errors.Is(err, pack.ErrFormat) || ix != nil {
				t.Fatalf("Open = %v; want ErrFormat", err)
			}
		})
	}
	t.Run("checksum", func(t *testing.T) {
		b := bytes.Clone(good)
		b[len(b)-1] ^= 1
		ix, err := Open(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.Verify(); !errors.Is(err, ErrFormat) {
			t.Fatalf("Verify = %v, want ErrFormat", err)
		}
	})
}

// TestEveryByteMatters flips each bit of a file in turn: Open or Verify
// must refuse every result.
func TestEveryByteMatters(t *testing.T) {
	good, _ := fixture(t)
	for i := range good {
		for bit := range 8 {
			b := bytes.Clone(good)
			b[i] ^= 1 << bit
			if ix, err := Open(b); err == nil && ix.Verify() == nil {
				t.Fatalf("byte %d bit %d flipped: accepted", i, bit)
			}
		}
	}
}

func TestOpenAndLookupAllocs(t *testing.T) {
	good, _ := fixture(t)
	if n := testing.AllocsPerRun(10, func() { _, _ = Open(good) }); n > 1 {
		t.Errorf("Open makes %v allocations, want at most 1", n)
	}
	ix := open(t, good)
	x := idOf(0x42, 1)
	copies := 0
	if n := testing.AllocsPerRun(10, func() {
		copies = 0
		for range ix.Lookup(x) {
			copies++
		}
	}); n != 0 || copies != 2 {
		t.Errorf("Lookup makes %v allocations and gives %d copies, want 0 and 2", n, copies)
	}
}
