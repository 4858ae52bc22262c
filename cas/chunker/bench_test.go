package chunker

import (
	"bytes"
	"io"
	"testing"
)

const benchSize = 64 << 20

func BenchmarkBoundary(b *testing.B) {
	data := randomBytes(1, benchSize)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		for d := data; len(d) > 0; {
			d = d[Boundary(d):]
		}
	}
}

func BenchmarkChunker(b *testing.B) {
	data := randomBytes(1, benchSize)
	r := bytes.NewReader(data)
	c := New(r)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Reset(data)
		c.Reset(r)
		for {
			if _, err := c.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
