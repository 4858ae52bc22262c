package manifest

import (
	"errors"
	"testing"

	"github.com/lodevcs/lode/cas"
)

func sample() *Manifest {
	var b Builder
	for i, n := range []int{8192, 70000, 131072, 5} {
		b.Add(cas.Sum([]byte{byte(i)}), n)
	}
	return b.Finish(cas.Sum([]byte("file")))
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	got, err := Decode(m.Encode(), m.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.OID != m.OID || got.Size != m.Size || len(got.Chunks) != len(m.Chunks) {
		t.Fatalf("Decode = %+v, want %+v", got, m)
	}
	for i := range m.Chunks {
		if got.Chunks[i] != m.Chunks[i] {
			t.Fatalf("chunk %d = %+v, want %+v", i, got.Chunks[i], m.Chunks[i])
		}
	}
	if m.Size != 8192+70000+131072+5 {
		t.Fatalf("size %d", m.Size)
	}
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
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	reseal := func(b []byte) []byte { // keep the checksum valid so later checks are reached
		sum := cas.Sum(b[:len(b)-32])
		copy(b[len(b)-32:], sum[:])
		return b
	}
	tests := []struct {
		name string
		b    []byte
		id   cas.ID
	}{
		{"empty", nil, cas.ID{}},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), cas.ID{}},
		{"flipped byte", mutate(func(b []byte) []byte { b[60] ^= 1; return b }), cas.ID{}},
		{"truncated", good[:len(good)-1], cas.ID{}},
		{"wrong id", good, cas.Sum([]byte("other"))},
		{"size mismatch", mutate(func(b []byte) []byte { b[47]++; return reseal(b) }), cas.ID{}},
		{"count mismatch", mutate(func(b []byte) []byte { b[51]++; return reseal(b) }), cas.ID{}},
		{"empty chunk", mutate(func(b []byte) []byte { copy(b[headerSize:headerSize+4], []byte{0, 0, 0, 0}); return reseal(b) }), cas.ID{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.b, tt.id); !errors.Is(err, ErrFormat) {
				t.Fatalf("Decode error = %v, want ErrFormat", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sample().Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, cas.ID{})
		if err != nil {
			return
		}
		var sum int64
		for _, c := range m.Chunks {
			sum += int64(c.Len)
		}
		if sum != m.Size {
			t.Fatalf("accepted manifest whose chunks sum to %d, size %d", sum, m.Size)
		}
	})
}
