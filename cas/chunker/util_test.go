package chunker

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
)

// randomBytes returns n pseudo-random bytes that depend only on seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6c6f6465))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint64())
	}
	return b
}

// csvBytes returns about n bytes of CSV-like text that depend only on seed:
// a header, then rows of an id, a float, a name and a hex token.
func csvBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x637376))
	b := make([]byte, 0, n+128)
	b = append(b, "id,value,user,token\n"...)
	for row := 0; len(b) < n; row++ {
		b = strconv.AppendInt(b, int64(row), 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, r.NormFloat64()*100, 'f', 4, 64)
		b = append(b, ",user"...)
		b = strconv.AppendInt(b, int64(r.IntN(10000)), 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, r.Uint64N(1<<40), 16)
		b = append(b, '\n')
	}
	return b[:n]
}

// refBoundary is format v1 written as plainly as doc.go states it: hash
// every byte from the start of the chunk and test every length from
// MinSize on. Boundary must agree with it on every input.
func refBoundary(data []byte) int {
	var h uint64
	for l := 1; l <= len(data) && l <= MaxSize; l++ {
		h = h<<1 + gear[data[l-1]]
		if l < MinSize {
			continue
		}
		mask := maskLoose
		if l < TargetSize {
			mask = maskStrict
		}
		if h&mask == 0 {
			return l
		}
	}
	return min(len(data), MaxSize)
}

// cutAll returns the chunk lengths of data, cut with boundary.
func cutAll(data []byte, boundary func([]byte) int) []int {
	var lens []int
	for len(data) > 0 {
		n := boundary(data)
		lens = append(lens, n)
		data = data[n:]
	}
	return lens
}

// readAll returns the chunk lengths that a Chunker reading r produces, and
// checks that the chunks concatenate to want.
func readAll(t testing.TB, r io.Reader, want []byte) []int {
	t.Helper()
	c := New(r)
	var lens []int
	var got []byte
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		lens = append(lens, len(chunk))
		got = append(got, chunk...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("chunks concatenate to %d bytes that differ from the %d-byte input", len(got), len(want))
	}
	return lens
}

// checkInvariants fails t unless lens are valid chunk lengths of a
// total-byte stream.
func checkInvariants(t testing.TB, lens []int, total int) {
	t.Helper()
	sum := 0
	for i, n := range lens {
		sum += n
		last := i == len(lens)-1
		switch {
		case n > MaxSize:
			t.Fatalf("chunk %d of %d is %d bytes, above MaxSize", i, len(lens), n)
		case last && n < 1:
			t.Fatalf("last chunk is empty")
		case !last && n < MinSize:
			t.Fatalf("chunk %d of %d is %d bytes, below MinSize", i, len(lens), n)
		}
	}
	if sum != total {
		t.Fatalf("chunk lengths sum to %d, want %d", sum, total)
	}
	if total == 0 && len(lens) != 0 {
		t.Fatalf("empty input gave %d chunks, want none", len(lens))
	}
	if 0 < total && total <= MinSize && len(lens) != 1 {
		t.Fatalf("%d-byte input gave %d chunks, want 1", total, len(lens))
	}
}

// splitReader returns the bytes of data in reads whose sizes cycle through
// sizes, to show that boundaries do not depend on how reads are split.
type splitReader struct {
	data  []byte
	sizes []int
	i     int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), r.sizes[r.i%len(r.sizes)])
	r.i++
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// failReader returns data, then err.
type failReader struct {
	data []byte
	err  error
}

func (r *failReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

var errBoom = errors.New("boom")
