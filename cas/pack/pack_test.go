package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
)

// build writes a pack of n small objects and returns it with its index.
func build(t testing.TB, n int) ([]byte, []byte, cas.ID, []cas.ID) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var ids []cas.ID
	for i := range n {
		raw := []byte(fmt.Sprintf("object %d %s", i, bytes.Repeat([]byte{byte(i)}, i)))
		id := cas.Sum(raw)
		if err := w.Add(id, cas.KindChunk, compress.None, len(raw), raw); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	id, idx, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), idx, id, ids
}

func TestWriteIndexLookupScan(t *testing.T) {
	packBytes, idxBytes, id, ids := build(t, 50)
	ix, err := ParseIndex(idxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Verify(); err != nil {
		t.Fatal(err)
	}
	if ix.ID() != id || ix.Len() != 50 || ix.PackSize() != int64(len(packBytes)) {
		t.Fatalf("index id %v len %d size %d", ix.ID(), ix.Len(), ix.PackSize())
	}
	r := bytes.NewReader(packBytes)
	for _, want := range ids {
		e, ok, err := ix.Lookup(want)
		if !ok || err != nil {
			t.Fatalf("Lookup(%v) = %v, %v", want.Short(), ok, err)
		}
		stored, err := ReadEntry(r, e, nil)
		if err != nil || cas.Sum(stored) != want {
			t.Fatalf("ReadEntry: %v", err)
		}
	}
	if _, ok, _ := ix.Lookup(cas.Sum([]byte("absent"))); ok {
		t.Fatal("found an absent id")
	}
	var scanned []Entry
	size, err := Scan(bytes.NewReader(packBytes), func(e Entry, stored []byte) error {
		if cas.Sum(stored) != e.ID {
			return fmt.Errorf("scan gave wrong bytes for %v", e.ID.Short())
		}
		scanned = append(scanned, e)
		return nil
	})
	if err != nil || size != int64(len(packBytes)) {
		t.Fatalf("Scan: %d, %v", size, err)
	}
	if !bytes.Equal(EncodeIndex(scanned, size), idxBytes) {
		t.Fatal("index rebuilt from a scan differs")
	}
}

func TestEmptyPackAndIndex(t *testing.T) {
	packBytes, idxBytes, _, _ := build(t, 0)
	ix, err := ParseIndex(idxBytes)
	if err != nil || ix.Len() != 0 || len(packBytes) != HeaderSize {
		t.Fatalf("empty: %v len %d", err, len(packBytes))
	}
	if _, ok, _ := ix.Lookup(cas.Sum(nil)); ok {
		t.Fatal("found in empty index")
	}
}

func TestIndexRejects(t *testing.T) {
	_, good, _, _ := build(t, 5)
	mut := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	// resealed keeps the checksum right, so that only the record checks
	// can catch what f did.
	resealed := func(f func([]byte) []byte) []byte {
		b := mut(f)
		sum := cas.Sum(b[:len(b)-32])
		copy(b[len(b)-32:], sum[:])
		return b
	}
	tests := []struct {
		name   string
		b      []byte
		verify bool // only Verify (not ParseIndex) catches it
	}{
		{"empty", nil, false},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), false},
		{"version", mut(func(b []byte) []byte { b[11] = 9; return b }), false},
		{"count", mut(func(b []byte) []byte { b[15]++; return b }), false},
		{"truncated", good[:len(good)-1], false},
		{"record byte", mut(func(b []byte) []byte { b[20] ^= 1; return b }), true},
		{"offset past pack", resealed(func(b []byte) []byte { b[indexHeaderSize+32] = 0xff; return b }), true},
		// Records whose lengths break the format's bounds are refused
		// even when the pack is large enough to hold them.
		{"chunk of 1 GiB", resealed(func(b []byte) []byte {
			r := b[indexHeaderSize:]
			r[40], r[41], r[42], r[43] = 0x40, 0, 0, 0 // rawLen
			r[44], r[45], r[46], r[47] = 0x40, 0, 0, 0 // storedLen
			t := b[len(b)-trailerSize:]
			t[0] = 0x7f // packSize
			return b
		}), true},
		{"end past a huge pack (overflow)", resealed(func(b []byte) []byte {
			r := b[indexHeaderSize:]
			binary.BigEndian.PutUint64(r[32:40], 1<<63-10) // offset
			t := b[len(b)-trailerSize:]
			binary.BigEndian.PutUint64(t[0:8], 1<<63-1) // pack size
			return b
		}), true},
		{"stored longer than raw", resealed(func(b []byte) []byte { b[indexHeaderSize+47]++; return b }), true},
		{"unknown kind", resealed(func(b []byte) []byte { b[indexHeaderSize+48] = 7; return b }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := ParseIndex(tt.b)
			if tt.verify {
				if err != nil {
					t.Fatalf("ParseIndex: %v", err)
				}
				err = ix.Verify()
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
		})
	}
}

func TestReadEntryChecksHeader(t *testing.T) {
	packBytes, idxBytes, _, ids := build(t, 3)
	ix, _ := ParseIndex(idxBytes)
	e, _, _ := ix.Lookup(ids[1])
	bad := bytes.Clone(packBytes)
	bad[e.Offset+3] ^= 1 // id byte in the entry header
	if _, err := ReadEntry(bytes.NewReader(bad), e, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("ReadEntry on damaged header = %v", err)
	}
	if _, err := ReadEntry(bytes.NewReader(packBytes[:e.Offset+10]), e, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("ReadEntry on truncated pack = %v", err)
	}
}

func TestScanRejects(t *testing.T) {
	packBytes, _, _, _ := build(t, 4)
	for name, b := range map[string][]byte{
		"short header": packBytes[:10],
		"bad magic":    append([]byte("NOTAPACK"), packBytes[8:]...),
		"truncated":    packBytes[:len(packBytes)-3],
		"torn header":  packBytes[:HeaderSize+20],
	} {
		if _, err := Scan(bytes.NewReader(b), func(Entry, []byte) error { return nil }); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: Scan = %v, want ErrFormat", name, err)
		}
	}
}

func FuzzParseIndexAndScan(f *testing.F) {
	p, idx, _, _ := build(f, 3)
	f.Add(idx, p)
	f.Fuzz(func(t *testing.T, idx, p []byte) {
		if ix, err := ParseIndex(idx); err == nil {
			_ = ix.Verify()
			for i := 0; i < ix.Len(); i++ {
				if e, err := ix.Entry(i); err == nil {
					if e.End() > ix.PackSize() {
						t.Fatalf("entry %d ends past the pack", i)
					}
					if e.StoredLen > e.RawLen || (e.Kind == cas.KindChunk && e.RawLen > MaxChunkLen) {
						t.Fatalf("entry %d breaks the length bounds: %+v", i, e)
					}
					_, _ = ReadEntry(bytes.NewReader(p), e, nil)
				}
			}
		}
		_, _ = Scan(bytes.NewReader(p), func(e Entry, stored []byte) error {
			if e.StoredLen > e.RawLen || len(stored) != int(e.StoredLen) {
				t.Fatalf("Scan gave an entry breaking the bounds: %+v", e)
			}
			return nil
		})
	})
}

func TestEntryCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    Entry
		ok   bool
	}{
		{"chunk", Entry{Kind: cas.KindChunk, RawLen: 100, StoredLen: 60}, true},
		{"largest chunk", Entry{Kind: cas.KindChunk, RawLen: MaxChunkLen, StoredLen: MaxChunkLen}, true},
		{"manifest", Entry{Kind: cas.KindManifest, RawLen: 1 << 20, StoredLen: 1 << 20}, true},
		{"empty chunk", Entry{Kind: cas.KindChunk}, false},
		{"chunk too long", Entry{Kind: cas.KindChunk, RawLen: MaxChunkLen + 1, StoredLen: 10}, false},
		{"object too long", Entry{Kind: cas.KindManifest, RawLen: compress.MaxRawLen + 1, StoredLen: 10}, false},
		{"stored longer than raw", Entry{Kind: cas.KindChunk, RawLen: 10, StoredLen: 11}, false},
		{"unknown kind", Entry{Kind: 3, RawLen: 10, StoredLen: 10}, false},
	} {
		if err := tt.e.Check(); (err == nil) != tt.ok {
			t.Errorf("%s: Check() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
