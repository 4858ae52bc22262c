package midx

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pack"
)

// FuzzOpen checks that whatever bytes Open accepts keep the invariants the
// package doc promises, and that Open never panics.
func FuzzOpen(f *testing.F) {
	good, _ := fixture(f)
	f.Add(good)
	empty, _ := write(f, nil)
	f.Add(empty)
	edges, _ := write(f, []Pack{build(1, idOf(0x00, 1), idOf(0xff, 2)), build(2, idOf(0xff, 2))})
	f.Add(edges)
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := Open(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) || ix != nil {
				t.Fatalf("Open = %v, want ErrFormat", err)
			}
			return
		}
		_ = ix.Verify()
		packs := ix.Packs()
		if len(b) != HeaderSize+PackRecordSize*len(packs)+FanoutSize+RecordSize*ix.Len()+ChecksumSize {
			t.Fatalf("%d bytes for %d packs and %d records", len(b), len(packs), ix.Len())
		}
		for n := 1; n < len(packs); n++ {
			if packs[n-1].ID.Compare(packs[n].ID) >= 0 {
				t.Fatalf("packs %d and %d out of order", n-1, n)
			}
		}
		var prev Location
		for i := range ix.Len() {
			l := ix.At(i)
			if l.PackNum < 0 || l.PackNum >= len(packs) || packs[l.PackNum].ID != l.Pack {
				t.Fatalf("record %d names pack %d of %d", i, l.PackNum, len(packs))
			}
			e := l.Entry
			if err := e.Check(); err != nil || e.Offset < pack.HeaderSize || e.End() > packs[l.PackNum].Size || e.End() < e.Offset {
				t.Fatalf("record %d out of bounds (pack of %d bytes): %+v, %v", i, packs[l.PackNum].Size, e, err)
			}
			if i > 0 {
				if c := prev.Entry.ID.Compare(e.ID); c > 0 || c == 0 && (prev.PackNum > l.PackNum || prev.PackNum == l.PackNum && prev.Entry.Offset >= e.Offset) {
					t.Fatalf("records %d and %d out of order", i-1, i)
				}
			}
			prev = l
			first, n := ix.Find(e.ID)
			if i < first || i >= first+n {
				t.Fatalf("Find(record %d) = %d, %d", i, first, n)
			}
			for c := range ix.Lookup(e.ID) {
				if c.Entry.ID != e.ID {
					t.Fatalf("Lookup(%v) gave %v", e.ID.Short(), c.Entry.ID.Short())
				}
			}
			absent := e.ID
			absent[31] ^= 0x80
			for c := range ix.Lookup(absent) {
				if c.Entry.ID != absent {
					t.Fatalf("Lookup(%v) gave %v", absent.Short(), c.Entry.ID.Short())
				}
			}
		}
		if _, n := ix.Find(cas.ID{0: 0xff, 1: 0x5a}); n > ix.Len() {
			t.Fatalf("Find gave %d copies of %d records", n, ix.Len())
		}
		// What Open accepts, Rewrite carries over unchanged.
		var again bytes.Buffer
		if _, err := Rewrite(&again, ix, nil, nil); err != nil {
			t.Fatalf("Rewrite of an accepted index: %v", err)
		}
		if !bytes.Equal(again.Bytes()[:len(b)-ChecksumSize], b[:len(b)-ChecksumSize]) {
			t.Fatal("Rewrite changed the records")
		}
	})
}
