package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/fuse/commitfs"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, rev, path string
		dir, bad      bool
	}{
		{in: "/v1/data/train.csv", rev: "v1", path: "data/train.csv"},
		{in: "/v1/data/", rev: "v1", path: "data", dir: true},
		{in: "/v1", rev: "v1", dir: true},
		{in: "/v1/", rev: "v1", dir: true},
		{in: "/main~3/a%20b.csv", rev: "main~3", path: "a b.csv"},
		{in: "/feature%2Fx/a", rev: "feature/x", path: "a"},
		{in: "/v1/a%2fb", bad: true},
		{in: "/v1/a%2Fb", bad: true},
		{in: "/v1/../etc/passwd", bad: true},
		{in: "/v1/%2e%2e/x", bad: true},
		{in: "/v1/./x", bad: true},
		{in: "/v1//x", bad: true},
		{in: "/v1/a%00b", bad: true},
		{in: "/v1/a%zz", bad: true},
		{in: "//x", bad: true},
		{in: "x", bad: true},
	} {
		rev, p, dir, err := parseURL(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: accepted as %q %q", c.in, rev, p)
			}
			continue
		}
		if err != nil || rev != c.rev || p != c.path || dir != c.dir {
			t.Errorf("%q: %q %q %v %v, want %q %q %v", c.in, rev, p, dir, err, c.rev, c.path, c.dir)
		}
	}
}

// memObjects is a repository's trees and blobs in memory.
type memObjects struct {
	trees map[commitfs.Hash][]commitfs.Entry
	blobs map[commitfs.Hash][]byte
}

func newMem() *memObjects {
	return &memObjects{trees: map[commitfs.Hash][]commitfs.Entry{}, blobs: map[commitfs.Hash][]byte{}}
}

func (m *memObjects) blob(b []byte) commitfs.Hash {
	h := commitfs.Hash(sha1.Sum(append([]byte("blob\x00"), b...)))
	m.blobs[h] = b
	return h
}

func (m *memObjects) tree(es ...commitfs.Entry) commitfs.Hash {
	var key []byte
	for _, e := range es {
		key = fmt.Appendf(key, "%o %s %x\n", e.Mode, e.Name, e.Hash)
	}
	h := commitfs.Hash(sha1.Sum(append([]byte("tree\x00"), key...)))
	m.trees[h] = es
	return h
}

func (m *memObjects) ReadTree(ctx context.Context, h commitfs.Hash) ([]commitfs.Entry, error) {
	es, ok := m.trees[h]
	if !ok {
		return nil, fmt.Errorf("tree %s not found", h)
	}
	return es, nil
}

func (m *memObjects) BlobHead(ctx context.Context, h commitfs.Hash, max int64) (int64, []byte, error) {
	b, ok := m.blobs[h]
	if !ok {
		return 0, nil, fmt.Errorf("blob %s not found", h)
	}
	if int64(len(b)) > max {
		return int64(len(b)), nil, nil
	}
	return int64(len(b)), b, nil
}

func (m *memObjects) ReadBlob(ctx context.Context, h commitfs.Hash) ([]byte, error) {
	b, ok := m.blobs[h]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", h)
	}
	return b, nil
}

// memFiles serves lode files from memory and counts open readers.
type memFiles struct {
	files         map[cas.ID][]byte
	open, closed  atomic.Int64
	readDelay     time.Duration
	readsInFlight atomic.Int64
}

func (f *memFiles) add(data []byte) pointer.Pointer {
	oid := cas.Sum(data)
	f.files[oid] = data
	var man cas.ID
	if len(data) > 1<<16 {
		man = cas.Sum(append([]byte("manifest"), data[:64]...))
	}
	return pointer.New(oid, int64(len(data)), man)
}

func (f *memFiles) Open(ctx context.Context, p pointer.Pointer) (commitfs.LodeFile, error) {
	b, ok := f.files[p.OID]
	if !ok {
		return nil, cas.ErrNotFound
	}
	return memFile{f, b}, nil
}

type memFile struct {
	f *memFiles
	b []byte
}

func (m memFile) Size() int64 { return int64(len(m.b)) }
func (m memFile) NewReader() commitfs.RangeReader {
	m.f.open.Add(1)
	return &memReader{m}
}

type memReader struct{ m memFile }

func (r *memReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	r.m.f.readsInFlight.Add(1)
	defer r.m.f.readsInFlight.Add(-1)
	if d := r.m.f.readDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if off >= int64(len(r.m.b)) {
		return 0, nil
	}
	return copy(p, r.m.b[off:]), nil
}

func (r *memReader) Close() error { r.m.f.closed.Add(1); return nil }

type fixedRevs map[string]Commit

func (r fixedRevs) Resolve(ctx context.Context, rev string) (Commit, error) {
	c, ok := r[rev]
	if !ok {
		return Commit{}, fmt.Errorf("%w: %q", ErrUnknownRevision, rev)
	}
	return c, nil
}

func (r fixedRevs) List() []string { return []string{"v1"} }

type fixture struct {
	srv   *httptest.Server
	files *memFiles
	big   []byte
	ptr   pointer.Pointer
	c     Commit
}

func newFixture(t *testing.T) *fixture {
	m := newMem()
	files := &memFiles{files: map[cas.ID][]byte{}}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	ptr := files.add(big)
	data := m.tree(
		commitfs.Entry{Name: "big.csv", Mode: commitfs.ModeRegular, Hash: m.blob(ptr.Encode())},
		commitfs.Entry{Name: "note.txt", Mode: commitfs.ModeRegular, Hash: m.blob([]byte("hello\n"))},
	)
	dotgit := m.tree(commitfs.Entry{Name: "config", Mode: commitfs.ModeRegular, Hash: m.blob([]byte("[core]\n"))})
	root := m.tree(
		commitfs.Entry{Name: ".git", Mode: commitfs.ModeDir, Hash: dotgit},
		commitfs.Entry{Name: "data", Mode: commitfs.ModeDir, Hash: data},
		commitfs.Entry{Name: "in", Mode: commitfs.ModeSymlink, Hash: m.blob([]byte("data/note.txt"))},
		commitfs.Entry{Name: "out", Mode: commitfs.ModeSymlink, Hash: m.blob([]byte("../../etc/passwd"))},
		commitfs.Entry{Name: "abs", Mode: commitfs.ModeSymlink, Hash: m.blob([]byte("/etc/passwd"))},
	)
	trees, err := commitfs.NewTrees(commitfs.Options{Objects: m, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	c := Commit{ID: commitfs.Hash{0xc0}, Root: root, Time: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h, err := NewHandler(Options{Trees: trees, Revisions: fixedRevs{"v1": c, c.ID.String(): c}, MaxRequests: 4})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, files: files, big: big, ptr: ptr, c: c}
}

func (f *fixture) do(t *testing.T, method, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestHandler(t *testing.T) {
	f := newFixture(t)
	oid := `"` + f.ptr.OID.String() + `"`
	for _, c := range []struct {
		method, path string
		hdr          []string
		code         int
		body         string // substring; "" for any
		header       [2]string
	}{
		{"GET", "/v1/data/note.txt", nil, 200, "hello\n", [2]string{"Content-Type", "text/plain; charset=utf-8"}},
		{"GET", "/v1/data/big.csv", []string{"Range", "bytes=16-31"}, 206, "0123456789abcdef", [2]string{"ETag", oid}},
		{"GET", "/v1/data/big.csv", []string{"Range", "bytes=99999999-"}, 416, "", [2]string{"Content-Range", fmt.Sprintf("bytes */%d", len(f.big))}},
		{"GET", "/v1/data/big.csv", []string{"If-None-Match", oid}, 304, "", [2]string{"ETag", oid}},
		{"HEAD", "/v1/data/big.csv", nil, 200, "", [2]string{"Content-Length", fmt.Sprint(len(f.big))}},
		{"GET", "/v1/data/", nil, 200, `"name":"big.csv","type":"file","size":4194304,"oid":"` + f.ptr.OID.String() + `","lode":true`, [2]string{"X-Lode-Type", "dir"}},
		{"GET", "/v1/in", nil, 302, "", [2]string{"Location", "/v1/data/note.txt"}},
		{"GET", "/v1/out", nil, 404, "outside the commit", [2]string{}},
		{"GET", "/v1/abs", nil, 404, "outside the commit", [2]string{}},
		{"GET", "/v1/.git/config", nil, 404, "no such file", [2]string{}},
		{"GET", "/v2/data/note.txt", nil, 404, "unknown revision", [2]string{}},
		{"GET", "/v1/data/nope", nil, 404, "no such file", [2]string{}},
		{"GET", "/v1/data%2Fnote.txt", nil, 400, "encoded /", [2]string{}},
		{"POST", "/v1/data/note.txt", nil, 405, "read-only", [2]string{"Allow", "GET, HEAD"}},
		{"GET", "/" + f.c.ID.String() + "/data/note.txt", nil, 200, "hello", [2]string{"Cache-Control", "public, max-age=31536000, immutable"}},
		{"GET", "/v1/data/note.txt", nil, 200, "hello", [2]string{"Cache-Control", "no-cache"}},
		{"GET", "/", nil, 200, `{"revisions":["v1"]}`, [2]string{"Content-Type", "application/json"}},
	} {
		resp, b := f.do(t, c.method, c.path, c.hdr...)
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.body) || c.header[0] != "" && resp.Header.Get(c.header[0]) != c.header[1] {
			t.Errorf("%s %s %v: %d %q %v, want %d %q %s: %s", c.method, c.path, c.hdr, resp.StatusCode, b, resp.Header, c.code, c.body, c.header[0], c.header[1])
		}
	}
	// A whole lode file, and several ranges at once.
	if resp, b := f.do(t, "GET", "/v1/data/big.csv"); resp.StatusCode != 200 || !bytes.Equal(b, f.big) {
		t.Errorf("whole file: %d, %d bytes", resp.StatusCode, len(b))
	}
	if resp, b := f.do(t, "GET", "/v1/data/big.csv", "Range", "bytes=0-3,100-103"); resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") || !bytes.Contains(b, []byte("4567")) {
		t.Errorf("two ranges: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var l Listing
	if _, b := f.do(t, "GET", "/v1"); json.Unmarshal(b, &l) != nil || len(l.Entries) != 4 || l.Commit != f.c.ID.String() {
		t.Errorf("root listing (no .git): %s", b)
	}
	if f.files.open.Load() != f.files.closed.Load() {
		t.Errorf("%d readers opened, %d closed", f.files.open.Load(), f.files.closed.Load())
	}
}

// A client that goes away in the middle of a body ends its request: its
// reader is closed, no goroutine stays behind, and the server keeps
// serving (also with every request slot taken by slow readers once).
func TestDisconnect(t *testing.T) {
	f := newFixture(t)
	f.files.readDelay = 2 * time.Millisecond
	before := runtime.NumGoroutine()
	addr := strings.TrimPrefix(f.srv.URL, "http://")
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /v1/data/big.csv HTTP/1.1\r\nHost: x\r\n\r\n")
		r := bufio.NewReader(c)
		if _, err := io.ReadFull(r, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for (f.files.open.Load() != f.files.closed.Load() || f.files.readsInFlight.Load() > 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.files.open.Load() != f.files.closed.Load() {
		t.Errorf("%d readers opened, %d closed", f.files.open.Load(), f.files.closed.Load())
	}
	f.files.readDelay = 0
	if resp, b := f.do(t, "GET", "/v1/data/big.csv"); resp.StatusCode != 200 || !bytes.Equal(b, f.big) {
		t.Errorf("after disconnects: %d, %d bytes", resp.StatusCode, len(b))
	}
	http.DefaultClient.CloseIdleConnections()
	f.srv.CloseClientConnections()
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines, %d before the clients", n, before)
	}
}
