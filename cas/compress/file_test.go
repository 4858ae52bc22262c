package compress

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFileCompressorChoosesPerFile(t *testing.T) {
	c, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(1, 1))
	numbers := func() []byte { // digits: Huffman gets nearly all of zstd's gain
		var b bytes.Buffer
		for b.Len() < 64<<10 {
			fmt.Fprintf(&b, "%d,%d.%06d\n", r.IntN(1<<30), r.IntN(1000), r.IntN(1000000))
		}
		return b.Bytes()[:64<<10]
	}
	logs := func() []byte { // long repeats: LZ (S2) is far better
		var b bytes.Buffer
		for b.Len() < 64<<10 {
			fmt.Fprintf(&b, `{"level":"info","service":"trainer","msg":"step finished","step":%d}`+"\n", r.IntN(100))
		}
		return b.Bytes()[:64<<10]
	}
	random := func() []byte { return randomBytes(64 << 10) }
	tests := []struct {
		name string
		gen  func() []byte
		want Method
	}{
		{"numbers", numbers, Huffman},
		{"logs", logs, S2},
		{"random", random, None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := c.ForFile()
			counts := map[Method]int{}
			for seq := range 64 {
				raw := tt.gen()
				stored, m := fc.Compress(nil, raw, seq)
				got, err := c.Decompress(nil, stored, m, len(raw))
				if err != nil || !bytes.Equal(got, raw) {
					t.Fatalf("chunk %d (%v) does not round-trip: %v", seq, m, err)
				}
				counts[m]++
			}
			if counts[tt.want] < 56 {
				t.Fatalf("methods used %v; want mostly %v", counts, tt.want)
			}
		})
	}
}

func TestHuffmanRejectsDamage(t *testing.T) {
	c, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := []byte(strings.Repeat("0123456789,", 6000))
	stored, ok := c.huffman(nil, raw)
	if !ok {
		t.Fatal("digits did not compress with Huffman coding")
	}
	for _, tc := range []struct {
		name   string
		stored []byte
		rawLen int
	}{
		{"truncated", stored[:len(stored)/2], len(raw)},
		{"empty", nil, len(raw)},
		{"wrong length", stored, len(raw) + 1},
	} {
		if got, err := c.Decompress(nil, tc.stored, Huffman, tc.rawLen); err == nil && bytes.Equal(got, raw) {
			t.Errorf("%s: decoded to the original", tc.name)
		} else if err == nil && len(got) != tc.rawLen {
			t.Errorf("%s: no error for %d bytes", tc.name, len(got))
		}
	}
}

func FuzzDecompress(f *testing.F) {
	c, err := New(1)
	if err != nil {
		f.Fatal(err)
	}
	raw := []byte(strings.Repeat("0123456789,", 600))
	h, _ := c.huffman(nil, raw)
	z, _ := c.Compress(nil, raw)
	f.Add(h, uint8(Huffman), len(raw))
	f.Add(z, uint8(Zstd), len(raw))
	f.Fuzz(func(t *testing.T, stored []byte, m uint8, rawLen int) {
		if rawLen > 1<<20 {
			rawLen = 1 << 20
		}
		out, err := c.Decompress(nil, stored, Method(m), rawLen)
		if err == nil && len(out) != rawLen {
			t.Fatalf("decoded %d bytes without error, want %d", len(out), rawLen)
		}
	})
}
