package manifest

import (
	"errors"
	"testing"

	"github.com/lodevcs/lode/cas"
)

func sampleLocated() *Located {
	m := sample()
	l := &Located{Manifest: *m}
	packs := []cas.ID{cas.Sum([]byte("p1")), cas.Sum([]byte("p2"))}
	for i, c := range m.Chunks {
		l.Locs = append(l.Locs, Location{Pack: packs[i%2], Offset: int64(16 + i*1000), StoredLen: c.Len / 2, Method: 2})
	}
	return l
}

func TestLocatedRoundTrip(t *testing.T) {
	l := sampleLocated()
	got, err := DecodeLocated(l.Encode(), l.OID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != l.Size || len(got.Chunks) != len(l.Chunks) {
		t.Fatalf("got %+v", got)
	}
	for i := range l.Chunks {
		if got.Chunks[i] != l.Chunks[i] || got.Locs[i] != l.Locs[i] {
			t.Fatalf("entry %d: %+v %+v, want %+v %+v", i, got.Chunks[i], got.Locs[i], l.Chunks[i], l.Locs[i])
		}
	}
}

func TestLocatedRejects(t *testing.T) {
	good := sampleLocated().Encode()
	mut := func(f func([]byte)) []byte { b := append([]byte(nil), good...); f(b); return b }
	reseal := func(b []byte) { s := cas.Sum(b[:len(b)-32]); copy(b[len(b)-32:], s[:]) }
	tests := []struct {
		name string
		b    []byte
		oid  cas.ID
	}{
		{"empty", nil, cas.ID{}},
		{"flipped", mut(func(b []byte) { b[100] ^= 1 }), cas.ID{}},
		{"other file", good, cas.Sum([]byte("other"))},
		{"pack index out of range", mut(func(b []byte) {
			off := 8 + 32 + 8 + 4 + 64 + 4 + 36
			b[off+3] = 9
			reseal(b)
		}), cas.ID{}},
		{"truncated", good[:len(good)-40], cas.ID{}},
		{"chunk over max", mut(func(b []byte) {
			off := 8 + 32 + 8 + 4 + 64 + 4
			b[off], b[off+1] = 0x40, 0 // length 1 GiB
			reseal(b)
		}), cas.ID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeLocated(tt.b, tt.oid); !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func FuzzDecodeLocated(f *testing.F) {
	f.Add(sampleLocated().Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLocated(b, cas.ID{})
		if err != nil {
			return
		}
		if len(l.Locs) != len(l.Chunks) {
			t.Fatal("locations and chunks differ in number")
		}
		if int64(len(b)) > MaxLocatedLen(l.Size) {
			t.Fatalf("accepted %d bytes for a file of %d", len(b), l.Size)
		}
	})
}
