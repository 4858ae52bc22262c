package chunker

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzChunker checks, for arbitrary input, that Boundary agrees with the
// reference rule and that a Chunker reading in arbitrary pieces keeps every
// invariant. The stream is data repeated rep+1 times (capped near 512 KiB), so that
// small inputs still reach the cut-point tests and MaxSize; split sets the
// sizes of the reads.
func FuzzChunker(f *testing.F) {
	f.Add([]byte{}, uint16(0), []byte{})
	f.Add([]byte("x"), uint16(0), []byte{1})
	f.Add(randomBytes(90, MinSize), uint16(1), []byte{0, 255, 3})
	f.Add(randomBytes(91, 3000), uint16(100), []byte{200, 1, 77})
	f.Add(csvBytes(92, 4000), uint16(90), []byte{9})
	f.Add([]byte("lode"), uint16(60_000), []byte{13, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte, rep uint16, split []byte) {
		if got, want := Boundary(data), refBoundary(data); got != want {
			t.Fatalf("Boundary = %d, reference = %d", got, want)
		}
		stream := data
		if len(data) > 0 {
			stream = bytes.Repeat(data, min(int(rep)+1, (512<<10)/len(data)+1))
		}
		want := cutAll(stream, refBoundary)
		checkInvariants(t, want, len(stream))
		if got := cutAll(stream, Boundary); !slices.Equal(got, want) {
			t.Fatalf("Boundary cuts %v, reference cuts %v", head(got), head(want))
		}
		sizes := []int{1 << 20}
		if len(split) > 0 {
			sizes = sizes[:0]
			for _, s := range split[:min(len(split), 64)] { // fewer empty reads in a row than maxEmptyReads
				sizes = append(sizes, int(s)*int(s)*3) // 0 to 195075; 0 is an empty read
			}
			sizes = append(sizes, 1) // no cycle of only empty reads
		}
		if got := readAll(t, &splitReader{data: stream, sizes: sizes}, stream); !slices.Equal(got, want) {
			t.Fatalf("Chunker cuts %v, reference cuts %v", head(got), head(want))
		}
	})
}
