package filterproc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// echoDelayer echoes, delays every smudge it may, and reports all delayed
// pathnames at once.
type echoDelayer struct {
	funcHandler
	pending []string
}

func (d *echoDelayer) Delay(_ context.Context, req *Request, _ []byte) (bool, error) {
	d.pending = append(d.pending, req.Pathname)
	return true, nil
}

func (d *echoDelayer) Available(context.Context) ([]string, error) {
	p := d.pending
	d.pending = nil
	return p, nil
}

func FuzzServe(f *testing.F) {
	hs := func() *script { return new(script).handshake("clean", "smudge", "delay") }
	f.Add([]byte{})
	f.Add(hs().Bytes())
	f.Add(hs().clean("a", []byte("hello")).smudge("b", pattern(70000)).Bytes())
	f.Add(hs().request([]byte("x"), "command=smudge", "pathname=a", "can-delay=1").
		line("command=list_available_blobs").flush().smudge("a", nil).
		line("command=list_available_blobs").flush().Bytes())
	f.Add(hs().line("command=bogus").flush().clean("a", nil).Bytes())
	f.Add(hs().line("command=clean").flush().raw("0003").Bytes())
	f.Add(hs().line("command=smudge").line("pathname=a").flush().raw("0010abc").Bytes())
	dir, err := os.MkdirTemp("", "fuzzserve")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })

	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h := &echoDelayer{funcHandler: funcHandler{clean: echo, smudge: echo}}
		var out bytes.Buffer
		err := Serve(ctx, bytes.NewReader(data), &out, h, Options{Delay: true, SpoolDir: dir, SpoolMemory: 1 << 16})
		if ctx.Err() != nil {
			t.Fatalf("Serve took too long: %v", err)
		}
		if err != nil && !errors.Is(err, ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Serve = %v, want nil, ErrProtocol or io.ErrUnexpectedEOF", err)
		}
		// Whatever happened, the output is well-formed pkt-lines.
		g := newGitReader(&out)
		for {
			_, err := g.packet()
			if err == io.EOF {
				break
			}
			if err != nil && err != errFlush {
				t.Fatalf("malformed output: %v", err)
			}
		}
	})
}
