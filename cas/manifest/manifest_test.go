package manifest

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
)

func sample() *Manifest {
	var b Builder
	for i, n := range []int{8192, 70000, 131072, 5} {
		b.Add(cas.Sum([]byte{byte(i)}), n)
	}
	return b.Finish(cas.Sum([]byte("file")))
}

func sameManifest(t *testing.T, got, want *Manifest) {
	t.Helper()
	if got.OID != want.OID || got.Size != want.Size || len(got.Chunks) != len(want.Chunks) {
		t.Fatalf("Decode = %+v, want %+v", got, want)
	}
	for i := range want.Chunks {
		if got.Chunks[i] != want.Chunks[i] {
			t.Fatalf("chunk %d = %+v, want %+v", i, got.Chunks[i], want.Chunks[i])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	got, err := Decode(m.Encode(), m.ID())
	if err != nil {
		t.Fatal(err)
	}
	sameManifest(t, got, m)
	if m.Size != 8192+70000+131072+5 {
		t.Fatalf("size %d", m.Size)
	}
	if m.ID() != cas.Sum(m.Encode()) {
		t.Fatal("ID is not the hash of the encoding")
	}
	if int64(len(m.Encode())) > MaxEncodedLen(m.Size) || int64(len(m.EncodeV1())) > MaxEncodedLen(m.Size) {
		t.Fatal("encoding longer than MaxEncodedLen")
	}
}

func TestRoundTripV1(t *testing.T) {
	m := sample()
	got, err := Decode(m.EncodeV1(), cas.ManifestID(m.OID))
	if err != nil {
		t.Fatal(err)
	}
	sameManifest(t, got, m)
}

func TestFind(t *testing.T) {
	m := sample()
	for _, tt := range []struct {
		off  int64
		want int
	}{{0, 0}, {8191, 0}, {8192, 1}, {78191, 1}, {78192, 2}, {m.Size - 1, 3}, {m.Size, 4}, {m.Size + 100, 4}} {
		if got := m.Find(tt.off); got != tt.want {
			t.Errorf("Find(%d) = %d, want %d", tt.off, got, tt.want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	m := sample()
	good := m.Encode()
	goodV1 := m.EncodeV1()
	mutate := func(src []byte, f func(b []byte)) []byte { b := append([]byte(nil), src...); f(b); return b }
	reseal := func(b []byte) { // keep a v1 checksum valid so later checks are reached
		sum := cas.Sum(b[:len(b)-32])
		copy(b[len(b)-32:], sum[:])
	}
	setLen := func(b []byte, i int, n uint32) { binary.BigEndian.PutUint32(b[headerSize+i*chunkSize:], n) }
	setSize := func(b []byte, n uint64) { binary.BigEndian.PutUint64(b[40:48], n) }
	tests := []struct {
		name string
		b    []byte
		id   cas.ID // zero: no id check
	}{
		{"empty", nil, cas.ID{}},
		{"bad magic", mutate(good, func(b []byte) { b[0] = 'X' }), cas.ID{}},
		{"flipped byte", mutate(good, func(b []byte) { b[60] ^= 1 }), m.ID()},
		{"truncated", good[:len(good)-1], cas.ID{}},
		{"wrong id", good, cas.Sum([]byte("other"))},
		{"size mismatch", mutate(good, func(b []byte) { b[47]++ }), cas.ID{}},
		{"count mismatch", mutate(good, func(b []byte) { b[51]++ }), cas.ID{}},
		{"empty chunk", mutate(good, func(b []byte) { setLen(b, 0, 0); setSize(b, uint64(m.Size-8192)) }), cas.ID{}},
		{"chunk over max", mutate(good, func(b []byte) { setLen(b, 2, 1<<30); setSize(b, uint64(m.Size-131072+1<<30)) }), cas.ID{}},
		{"small chunk not last", mutate(good, func(b []byte) { setLen(b, 0, 100); setSize(b, uint64(m.Size-8092)) }), cas.ID{}},
		{"one chunk", (&Manifest{OID: m.OID, Size: 5, Chunks: []Chunk{{ID: m.OID, Len: 5}}}).Encode(), cas.ID{}},
		{"count over size bound", mutate(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[48:52], 1<<30)
		}), cas.ID{}},
		{"v1 flipped", mutate(goodV1, func(b []byte) { b[60] ^= 1 }), cas.ID{}},
		{"v1 wrong id", goodV1, cas.Sum([]byte("other"))},
		{"v1 size mismatch", mutate(goodV1, func(b []byte) { b[47]++; reseal(b) }), cas.ID{}},
		{"v1 empty chunk", mutate(goodV1, func(b []byte) { setLen(b, 0, 0); setSize(b, uint64(m.Size-8192)); reseal(b) }), cas.ID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.b, tt.id); !errors.Is(err, ErrFormat) {
				t.Fatalf("Decode error = %v, want ErrFormat", err)
			}
		})
	}
}

func TestForPointer(t *testing.T) {
	m := sample()
	other := sample()
	other.Chunks[1].ID = cas.Sum([]byte("forged"))
	p := pointer.New(m.OID, m.Size, m.ID())
	pV1 := pointer.Pointer{OID: m.OID, Size: m.Size, V1: true}

	if got, err := ForPointer(m.Encode(), p); err != nil {
		t.Fatal(err)
	} else {
		sameManifest(t, got, m)
	}
	if _, err := ForPointer(m.EncodeV1(), pV1); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		b    []byte
		p    pointer.Pointer
	}{
		// Valid chunks of other content under the file's oid: the hash
		// of the chunk list does not match what the pointer carries.
		{"forged chunk list", other.Encode(), p},
		{"v1 bytes for a v2 pointer", m.EncodeV1(), p},
		{"v2 bytes for a v1 pointer", m.Encode(), pV1},
		{"other file v1", (&Manifest{OID: cas.Sum([]byte("x")), Size: m.Size, Chunks: m.Chunks}).EncodeV1(), pV1},
		{"v1 size differs", m.EncodeV1(), pointer.Pointer{OID: m.OID, Size: m.Size + 1, V1: true}},
		{"longer than the size allows", append(m.Encode(), make([]byte, 1<<20)...), p},
		{"single-chunk pointer", m.Encode(), pointer.New(m.OID, 1000, cas.ID{})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ForPointer(tt.b, tt.p); !errors.Is(err, cas.ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestObjectID(t *testing.T) {
	m := sample()
	if id, ok := ObjectID(pointer.New(m.OID, m.Size, m.ID())); !ok || id != m.ID() {
		t.Fatal("v2 pointer")
	}
	if id, ok := ObjectID(pointer.Pointer{OID: m.OID, Size: m.Size, V1: true}); !ok || id != cas.ManifestID(m.OID) {
		t.Fatal("v1 pointer")
	}
	if _, ok := ObjectID(pointer.New(m.OID, 100, cas.ID{})); ok {
		t.Fatal("single chunk has a manifest")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sample().Encode())
	f.Add(sample().EncodeV1())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, cas.ID{})
		if err != nil {
			return
		}
		var sum int64
		for i, c := range m.Chunks {
			sum += int64(c.Len)
			if c.Len == 0 || c.Len > 128<<10 || (i < len(m.Chunks)-1 && c.Len < 8<<10) {
				t.Fatalf("accepted chunk %d of %d bytes", i, c.Len)
			}
		}
		if sum != m.Size {
			t.Fatalf("accepted manifest whose chunks sum to %d, size %d", sum, m.Size)
		}
		if int64(len(b)) > MaxEncodedLen(m.Size) {
			t.Fatalf("accepted %d bytes for a file of %d", len(b), m.Size)
		}
	})
}
