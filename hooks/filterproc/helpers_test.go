package filterproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// script builds git's side of a conversation as pkt-lines.
type script struct{ bytes.Buffer }

func (s *script) line(l string) *script {
	fmt.Fprintf(s, "%04x%s\n", len(l)+5, l)
	return s
}

func (s *script) raw(b string) *script {
	s.WriteString(b)
	return s
}

func (s *script) flush() *script { return s.raw("0000") }

// data writes content in packets of at most MaxPayload bytes, as git does.
func (s *script) data(b []byte) *script {
	for len(b) > 0 {
		k := min(len(b), MaxPayload)
		fmt.Fprintf(s, "%04x", k+4)
		s.Write(b[:k])
		b = b[k:]
	}
	return s
}

// handshake writes git's welcome and offers caps.
func (s *script) handshake(caps ...string) *script {
	s.line("git-filter-client").line("version=2").flush()
	for _, c := range caps {
		s.line("capability=" + c)
	}
	return s.flush()
}

// request writes a request with the given key=value lines and content.
func (s *script) request(content []byte, kv ...string) *script {
	for _, l := range kv {
		s.line(l)
	}
	return s.flush().data(content).flush()
}

func (s *script) clean(path string, content []byte) *script {
	return s.request(content, "command=clean", "pathname="+path)
}

func (s *script) smudge(path string, content []byte) *script {
	return s.request(content, "command=smudge", "pathname="+path)
}

// gitReader reads the filter's answers as git does.
type gitReader struct {
	r *bufio.Reader
}

func newGitReader(r io.Reader) *gitReader { return &gitReader{r: bufio.NewReader(r)} }

var errFlush = errors.New("flush")

// packet returns the next packet's payload, or errFlush.
func (g *gitReader) packet() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(g.r, h[:]); err != nil {
		return nil, err
	}
	n, ok := parseHex4(h[:])
	if !ok || (n > 0 && n < 4) || n > maxPktLen {
		return nil, fmt.Errorf("bad header %q", h)
	}
	if n == 0 {
		return nil, errFlush
	}
	p := make([]byte, n-4)
	_, err := io.ReadFull(g.r, p)
	return p, err
}

// lines reads text packets up to a flush, with their newlines removed.
func (g *gitReader) lines() ([]string, error) {
	var ls []string
	for {
		p, err := g.packet()
		if err == errFlush {
			return ls, nil
		}
		if err != nil {
			return ls, err
		}
		if !bytes.HasSuffix(p, []byte("\n")) {
			return ls, fmt.Errorf("line %q lacks a newline", p)
		}
		ls = append(ls, string(p[:len(p)-1]))
	}
}

// resp is one answer to a clean or smudge request.
type resp struct {
	status  string // status of the first list
	content string // content, if status was success
	final   string // last status of the second list; "" for an empty list
	sizes   []int  // payload sizes of the content packets
}

func lastStatus(ls []string) string {
	st := ""
	for _, l := range ls {
		if v, ok := strings.CutPrefix(l, "status="); ok {
			st = v
		}
	}
	return st
}

// response reads an answer to a clean or smudge request.
func (g *gitReader) response() (resp, error) {
	var r resp
	ls, err := g.lines()
	if err != nil {
		return r, fmt.Errorf("status list: %w", err)
	}
	r.status = lastStatus(ls)
	if r.status != "success" {
		return r, nil
	}
	var buf bytes.Buffer
	for {
		p, err := g.packet()
		if err == errFlush {
			break
		}
		if err != nil {
			return r, fmt.Errorf("content: %w", err)
		}
		r.sizes = append(r.sizes, len(p))
		buf.Write(p)
	}
	r.content = buf.String()
	ls, err = g.lines()
	if err != nil {
		return r, fmt.Errorf("final list: %w", err)
	}
	r.final = lastStatus(ls)
	return r, nil
}

// funcHandler is a Handler made of functions; nil ones fail.
type funcHandler struct {
	clean, smudge func(ctx context.Context, req *Request, r io.Reader, w io.Writer) error
}

func (h *funcHandler) Clean(ctx context.Context, req *Request, r io.Reader, w io.Writer) error {
	if h.clean == nil {
		return errors.New("no clean")
	}
	return h.clean(ctx, req, r, w)
}

func (h *funcHandler) Smudge(ctx context.Context, req *Request, r io.Reader, w io.Writer) error {
	if h.smudge == nil {
		return errors.New("no smudge")
	}
	return h.smudge(ctx, req, r, w)
}

// funcDelayer adds Delayer methods to a funcHandler.
type funcDelayer struct {
	funcHandler
	delay     func(ctx context.Context, req *Request, content []byte) (bool, error)
	available func(ctx context.Context) ([]string, error)
}

func (d *funcDelayer) Delay(ctx context.Context, req *Request, content []byte) (bool, error) {
	return d.delay(ctx, req, content)
}

func (d *funcDelayer) Available(ctx context.Context) ([]string, error) {
	return d.available(ctx)
}

var (
	_ Handler = (*funcHandler)(nil)
	_ Delayer = (*funcDelayer)(nil)
)

// echo copies r to w.
func echo(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
	_, err := io.Copy(w, r)
	return err
}

// summarize reads all of r, then writes its length and first bytes.
func summarize(_ context.Context, req *Request, r io.Reader, w io.Writer) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s %s len=%d head=%q", req.Command, req.Pathname, len(b), b[:min(len(b), 8)])
	return err
}

// pattern returns n bytes that are not all alike, so that misplaced bytes
// show.
func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
