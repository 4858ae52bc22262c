package compress

import (
	"bytes"
	"errors"
	"fmt"
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
	s2b, ok := c.s2(nil, raw)
	if !ok {
		t.Fatal("expected s2 to pay")
	}
	for _, tt := range []struct {
		name   string
		stored []byte
		rawLen int
	}{
		{"s2 wrong length", s2b, len(raw) + 1},
		{"s2 truncated", s2b[:len(s2b)/2], len(raw)},
		{"s2 garbage", []byte("\xff\xff\xff\xff\x0fnot s2"), 100},
	} {
		if _, err := c.Decompress(nil, tt.stored, S2, tt.rawLen); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tt.name, err)
		}
	}
	if got, err := c.Decompress(nil, s2b, S2, len(raw)); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("s2 round trip: %v", err)
	}
	// Recompress turns S2 into zstd, and leaves other methods alone.
	var text bytes.Buffer
	for i := 0; text.Len() < 60000; i++ {
		fmt.Fprintf(&text, "%d,order %d for customer %d was %s\n", i, i*7%1000, i*13%97, []string{"late", "early", "on time"}[i%3])
	}
	ts2, ok := c.s2(nil, text.Bytes())
	if !ok {
		t.Fatal("expected s2 to pay on text")
	}
	if out, m, err := c.Recompress(nil, ts2, S2, text.Len()); err != nil || m != Zstd || len(out) >= len(ts2) {
		t.Fatalf("Recompress = %v, %d bytes, %v", m, len(out), err)
	}
	if out, m, _ := c.Recompress(nil, stored, Zstd, len(raw)); m != Zstd || !bytes.Equal(out, stored) {
		t.Fatal("Recompress changed a zstd object")
	}
	// A flipped byte either fails to decode or decodes to different bytes;
	// callers catch the latter with the object's hash.
	if got, err := c.Decompress(nil, flipped, Zstd, len(raw)); err == nil && bytes.Equal(got, raw) {
		t.Fatal("flipped byte decoded to the original")
	}
}
