package filterproc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"testing"
)

const benchSize = 256 << 20

// benchPipes returns the two pipes between a fake git and Serve: git
// writes to inW, Serve reads inR, Serve writes outW, git reads outR.
func benchPipes(b *testing.B, kind string) (inR io.Reader, inW io.WriteCloser, outR io.Reader, outW io.WriteCloser) {
	if kind == "io.Pipe" {
		r1, w1 := io.Pipe()
		r2, w2 := io.Pipe()
		return r1, w1, r2, w2
	}
	r1, w1, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r1.Close(); w1.Close(); r2.Close(); w2.Close() })
	return r1, w1, r2, w2
}

// benchServe starts Serve with h, does the handshake, and returns git's
// ends; the cleanup closes git's end and waits for Serve.
func benchServe(b *testing.B, kind string, h Handler) (io.Writer, *bufio.Reader) {
	inR, inW, outR, outW := benchPipes(b, kind)
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), inR, outW, h, Options{}) }()
	b.Cleanup(func() {
		inW.Close()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	g := bufio.NewReaderSize(outR, 1<<20)
	if _, err := inW.Write(new(script).handshake("clean", "smudge").Bytes()); err != nil {
		b.Fatal(err)
	}
	gr := &gitReader{r: g}
	gr.lines()
	gr.lines()
	return inW, g
}

// skipResponse reads one successful response, discarding its content, and
// returns the content's length.
func skipResponse(b *testing.B, g *bufio.Reader) int64 {
	var n int64
	flushes := 0
	for flushes < 3 {
		h, err := g.Peek(4)
		if err != nil {
			b.Fatal(err)
		}
		l, _ := parseHex4(h)
		g.Discard(4)
		if l == 0 {
			flushes++
			continue
		}
		if flushes == 1 {
			n += int64(l - 4)
		}
		if _, err := g.Discard(l - 4); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

func BenchmarkCleanThroughput(b *testing.B) {
	// 16 full packets of content, written again and again.
	block := new(script).data(pattern(16 * MaxPayload)).Bytes()
	header := new(script).line("command=clean").line("pathname=big.bin").flush().Bytes()
	consumers := []struct {
		name string
		h    *funcHandler
	}{
		{"io.Copy", &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
			_, err := io.Copy(io.Discard, r) // uses WriteTo
			io.WriteString(w, "pointer")
			return err
		}}},
		{"Read1MiB", &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
			buf := make([]byte, 1<<20)
			for {
				_, err := r.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
			}
			_, err := io.WriteString(w, "pointer")
			return err
		}}},
	}
	for _, kind := range []string{"os.Pipe", "io.Pipe"} {
		for _, c := range consumers {
			b.Run(fmt.Sprintf("%s/%s", kind, c.name), func(b *testing.B) {
				inW, g := benchServe(b, kind, c.h)
				nblocks := benchSize / (16 * MaxPayload)
				b.SetBytes(int64(nblocks * 16 * MaxPayload))
				b.ReportAllocs()
				for b.Loop() {
					inW.Write(header)
					for range nblocks {
						if _, err := inW.Write(block); err != nil {
							b.Fatal(err)
						}
					}
					inW.Write([]byte("0000"))
					if n := skipResponse(b, g); n != 7 {
						b.Fatalf("response content %d bytes", n)
					}
				}
			})
		}
	}
}

func BenchmarkSmudgeThroughput(b *testing.B) {
	chunk := pattern(1 << 20)
	req := new(script).smudge("big.bin", []byte("pointer")).Bytes()
	producers := []struct {
		name string
		h    *funcHandler
	}{
		{"Write1MiB", &funcHandler{smudge: func(_ context.Context, _ *Request, _ io.Reader, w io.Writer) error {
			for range benchSize / len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return err
				}
			}
			return nil
		}}},
		{"io.Copy", &funcHandler{smudge: func(_ context.Context, _ *Request, _ io.Reader, w io.Writer) error {
			_, err := io.Copy(w, io.LimitReader(zeros{}, benchSize)) // uses ReadFrom
			return err
		}}},
	}
	for _, kind := range []string{"os.Pipe", "io.Pipe"} {
		for _, c := range producers {
			b.Run(fmt.Sprintf("%s/%s", kind, c.name), func(b *testing.B) {
				inW, g := benchServe(b, kind, c.h)
				b.SetBytes(benchSize)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := inW.Write(req); err != nil {
						b.Fatal(err)
					}
					if n := skipResponse(b, g); n != benchSize {
						b.Fatalf("response content %d bytes", n)
					}
				}
			})
		}
	}
}

// zeros reads as an endless run of zero bytes, without copying.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { return len(p), nil }
