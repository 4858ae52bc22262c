package compress

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	c, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		name string
		raw  []byte
		want Method
	}{
		{"empty", nil, None},
		{"tiny", []byte("abc"), None},
		{"text", []byte(strings.Repeat("id,name,value\n1,alpha,0.5\n", 2000)), Zstd},
		{"random", randomBytes(64 << 10), None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored, m := c.Compress(nil, tt.raw)
			if m != tt.want {
				t.Fatalf("method = %v, want %v", m, tt.want)
			}
			if m == Zstd && len(stored) >= len(tt.raw) {
				t.Fatalf("zstd kept although %d >= %d", len(stored), len(tt.raw))
			}
			got, err := c.Decompress(nil, stored, m, len(tt.raw))
			if err != nil || !bytes.Equal(got, tt.raw) {
				t.Fatalf("Decompress = %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestDecompressRejects(t *testing.T) {
	c, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := []byte(strings.Repeat("abcdefgh", 1000))
	stored, m := c.Compress(nil, raw)
	if m != Zstd {
		t.Fatal("expected zstd")
	}
	flipped := bytes.Clone(stored)
	flipped[len(flipped)/2] ^= 0xff
	tests := []struct {
		name   string
		stored []byte
		m      Method
		rawLen int
	}{
		{"wrong length", stored, Zstd, len(raw) - 1},
		{"negative length", stored, Zstd, -1},
		{"huge length", stored, Zstd, MaxRawLen + 1},
		{"truncated", stored[:len(stored)/2], Zstd, len(raw)},
		{"garbage", []byte("not zstd at all"), Zstd, 100},
		{"raw length mismatch", raw, None, len(raw) + 1},
		{"unknown method", raw, Method(7), len(raw)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Decompress(nil, tt.stored, tt.m, tt.rawLen); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	// A flipped byte either fails to decode or decodes to different bytes;
	// callers catch the latter with the object's hash.
	if got, err := c.Decompress(nil, flipped, Zstd, len(raw)); err == nil && bytes.Equal(got, raw) {
		t.Fatal("flipped byte decoded to the original")
	}
}
