package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is a running `git lode serve`.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:PORT/
	stderr *syncBuffer
	done   chan error
	// stopped is set by stop, which only the test's goroutine calls.
	stopped bool
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serve starts `git lode serve ARGS...` in repo and waits for its URL; it
// is stopped (SIGTERM) at the end of the test, which must see it exit 0.
func (s *sandbox) serve(repo string, args ...string) *server {
	s.t.Helper()
	// git-lode itself, not git: git dies of the SIGTERM that stops it.
	cmd := s.cmd(repo, append([]string{filepath.Join(binDir, "git-lode"), "serve"}, args...)...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	srv := &server{t: s.t, cmd: cmd, stderr: stderr, done: make(chan error, 1)}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		s.t.Fatalf("git lode serve %v: no URL (%v): %s", args, err, stderr.String())
	}
	srv.url = strings.TrimSpace(line)
	go func() { srv.done <- cmd.Wait() }()
	s.t.Cleanup(func() { srv.stop() })
	return srv
}

// stop sends SIGTERM and checks that the server exits 0 soon.
func (srv *server) stop() {
	if srv.stopped {
		return
	}
	srv.stopped = true
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-srv.done:
		if err != nil {
			srv.t.Errorf("git lode serve exited with %v after SIGTERM: %s", err, srv.stderr.String())
		}
	case <-time.After(15 * time.Second):
		srv.cmd.Process.Kill()
		srv.t.Errorf("git lode serve did not stop within 15 s of SIGTERM")
	}
}

func (srv *server) get(path string, hdr ...string) (*http.Response, []byte) {
	srv.t.Helper()
	req, err := http.NewRequest("GET", strings.TrimSuffix(srv.url, "/")+path, nil)
	if err != nil {
		srv.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		srv.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		srv.t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp, b
}

// raw sends a request line as it is (no client-side cleaning) and returns
// the status code and body.
func (srv *server) raw(target string) (int, string) {
	srv.t.Helper()
	u, _ := url.Parse(srv.url)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		srv.t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, u.Host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		srv.t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func openFDs(t *testing.T, pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// serveFixture is a clone (c) whose lode data is only on the remote, as
// newMountFixture makes it, plus a large file and a hostile commit.
func newServeFixture(t *testing.T) *mountFixture {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.csv", "*.bin")
	f := &mountFixture{sandbox: s, v1: genCSV(120000, 1)}
	extra := genCSV(2000, 2)
	f.v2 = append(bytes.Clone(f.v1), extra[bytes.IndexByte(extra, '\n')+1:]...)
	s.write("a/data/train.csv", f.v1)
	s.write("a/data/big.bin", genRand(12<<20, 7))
	s.write("a/README.md", []byte("# dataset\n"))
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "v1")
	s.run("a", "git", "tag", "v1")
	s.write("a/data/train.csv", f.v2)
	s.run("a", "git", "commit", "-q", "-am", "v2")
	s.run("a", "git", "push", "-q", "origin", "main", "v1")
	s.env = append(s.env, "GIT_LODE_SKIP_SMUDGE=1")
	s.run("", "git", "clone", "-q", "server.git", "c")
	s.env = s.env[:len(s.env)-1]
	return f
}

// git lode serve answers files with their bytes (fetched from the remote
// as read), ranges, ETag = the lode oid, listings as JSON, and refuses
// what it must: unknown revisions and paths (404), ranges past the end
// (416), traversal and encoded slashes (400), names checkout refuses and
// damaged pointers, other methods (405); a client that goes away
// mid-body leaves nothing behind; SIGTERM stops it with exit 0.
func TestServe(t *testing.T) {
	f := newServeFixture(t)
	s := f.sandbox
	v1 := strings.TrimSpace(s.run("c", "git", "rev-parse", "v1"))
	main := strings.TrimSpace(s.run("c", "git", "rev-parse", "main"))
	ptr := s.run("c", "git", "cat-file", "blob", "v1:data/train.csv")
	oid := strings.TrimPrefix(lineOf(ptr, "oid blake3:"), "oid blake3:")
	big := genRand(12<<20, 7)

	// A hostile commit: a .git directory and a damaged pointer in its tree.
	cfg := s.hashObject("c", []byte("[core]\n\tfsmonitor = \"touch /tmp/pwned\"\n"))
	dotgit := s.mktree("c", "100644 blob "+cfg+"\tconfig")
	damaged := s.hashObject("c", []byte("version lode/9\noid blake3:00\nsize 3\n"))
	ok := s.hashObject("c", []byte("fine\n"))
	tree := s.mktree("c", "040000 tree "+dotgit+"\t.git", "040000 tree "+dotgit+"\t.GIT.", "100644 blob "+damaged+"\tbad.csv", "100644 blob "+ok+"\tok.txt")
	hostile := strings.TrimSpace(s.run("c", "git", "commit-tree", "-m", "hostile", tree))
	s.run("c", "git", "tag", "hostile", hostile)

	srv := s.serve("c", "--addr", "127.0.0.1:0", "-v")
	if !strings.HasPrefix(srv.url, "http://127.0.0.1:") {
		t.Fatalf("URL %q", srv.url)
	}

	// Files, by tag, branch, commit id and main~1.
	for _, c := range []struct {
		path string
		want []byte
	}{
		{"/v1/data/train.csv", f.v1}, {"/main/data/train.csv", f.v2}, {"/main~1/data/train.csv", f.v1},
		{"/" + v1 + "/data/train.csv", f.v1}, {"/" + main[:10] + "/data/big.bin", big}, {"/v1/README.md", []byte("# dataset\n")},
	} {
		resp, b := srv.get(c.path)
		if resp.StatusCode != 200 || !bytes.Equal(b, c.want) {
			t.Errorf("GET %s: %d, %d bytes (want %d)", c.path, resp.StatusCode, len(b), len(c.want))
		}
	}
	resp, _ := srv.get("/v1/data/train.csv")
	if resp.Header.Get("ETag") != `"`+oid+`"` || resp.Header.Get("Content-Length") != strconv.Itoa(len(f.v1)) ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("X-Lode-Commit") != v1 || resp.Header.Get("Last-Modified") == "" {
		t.Errorf("headers of a lode file: %v (oid %s)", resp.Header, oid)
	}
	resp, _ = srv.get("/v1/README.md")
	if blob := strings.TrimSpace(s.run("c", "git", "rev-parse", "v1:README.md")); resp.Header.Get("ETag") != `"`+blob+`"` {
		t.Errorf("ETag of a git file: %q, want the blob id %s", resp.Header.Get("ETag"), blob)
	}
	if resp, _ := srv.get("/v1/data/train.csv", "If-None-Match", `"`+oid+`"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the oid: %d, want 304", resp.StatusCode)
	}
	if resp, _ := srv.get("/"+v1+"/data/train.csv", "If-None-Match", `"`+oid+`"`); !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("a commit id's answer: Cache-Control %q, want immutable", resp.Header.Get("Cache-Control"))
	}
	// Ranges, also far into a file of many chunks.
	for _, r := range [][2]int{{0, 99}, {5 << 20, 5<<20 + 65535}, {len(big) - 10, len(big) - 1}} {
		resp, b := srv.get("/v1/data/big.bin", "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, big[r[0]:r[1]+1]) {
			t.Errorf("range %v: %d, %d bytes", r, resp.StatusCode, len(b))
		}
	}
	resp, b := srv.get("/v1/data/big.bin", "Range", fmt.Sprintf("bytes=%d-", len(big)+5))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(big)) {
		t.Errorf("range past the end: %d %v %q", resp.StatusCode, resp.Header, b)
	}

	// Listings.
	resp, b = srv.get("/v1/data/")
	var l struct {
		Commit  string `json:"commit"`
		Entries []struct {
			Name, Type, OID string
			Size            int64
			Lode            bool
		} `json:"entries"`
	}
	if err := json.Unmarshal(b, &l); err != nil || resp.Header.Get("Content-Type") != "application/json" || l.Commit != v1 || len(l.Entries) != 2 {
		t.Fatalf("listing: %v %s", err, b)
	}
	if e := l.Entries[1]; e.Name != "train.csv" || e.Type != "file" || e.Size != int64(len(f.v1)) || e.OID != oid || !e.Lode {
		t.Errorf("listing entry %+v", e)
	}
	if resp, b := srv.get("/v1"); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"name":"data","type":"dir"`)) {
		t.Errorf("root listing: %d %s", resp.StatusCode, b)
	}

	// Refused.
	for _, c := range []struct {
		target string
		code   int
		msg    string
	}{
		{"/nope/data/train.csv", 404, "unknown revision"},
		{"/v1/data/nope.csv", 404, "no such file or directory"},
		{"/v1/README.md/x", 404, "no such file"},
		{"/v1/data/train.csv/", 404, "not a directory"},
		{"/v1/../../etc/passwd", 400, "not a file name"},
		{"/v1/data/%2e%2e/README.md", 400, "not a file name"},
		{"/v1/data%2ftrain.csv", 400, "encoded /"},
		{"/v1/data%2Ftrain.csv", 400, "encoded /"},
		{"/v1//data/train.csv", 400, "not a file name"},
		{"/v1/./data/train.csv", 400, "not a file name"},
		{"/v1/a%00b", 400, "not a file name"},
		{"/hostile/.git/config", 404, "no such file"},
		{"/hostile/.GIT./config", 404, "no such file"},
		{"/hostile/.git/", 404, "no such file"},
		{"/hostile/bad.csv", 500, "damaged lode pointer"},
		{"/v1:README.md/", 404, "unknown revision"},
		{"/-h/x", 404, "unknown revision"},
	} {
		code, body := srv.raw(c.target)
		if code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("GET %s: %d %q, want %d with %q", c.target, code, body, c.code, c.msg)
		}
	}
	if resp, b := srv.get("/hostile/"); resp.StatusCode != 200 || bytes.Contains(b, []byte(".git")) || bytes.Contains(b, []byte(".GIT")) {
		t.Errorf("hostile listing: %d %s", resp.StatusCode, b)
	}
	if resp, b := srv.get("/hostile/ok.txt"); resp.StatusCode != 200 || string(b) != "fine\n" {
		t.Errorf("hostile/ok.txt: %d %q", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("PUT", srv.url+"v1/README.md", strings.NewReader("x"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("PUT: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Clients that go away mid-body: the server keeps working and keeps
	// no file descriptors or connections for them.
	pid := srv.cmd.Process.Pid
	srv.get("/v1/data/big.bin", "Range", "bytes=0-0")
	before := openFDs(t, pid)
	u, _ := url.Parse(srv.url)
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /v1/data/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 256<<10)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("partial read: %v", err)
		}
		c.Close()
	}
	if resp, b := srv.get("/v1/data/big.bin"); resp.StatusCode != 200 || !bytes.Equal(b, big) {
		t.Errorf("after disconnects: %d, %d bytes", resp.StatusCode, len(b))
	}
	deadline := time.Now().Add(10 * time.Second)
	for openFDs(t, pid) > before+2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := openFDs(t, pid); n > before+2 {
		t.Errorf("%d open file descriptors after 20 clients went away mid-body, %d before", n, before)
	}
	srv.stop()
	if !strings.Contains(srv.stderr.String(), "GET /v1/data/train.csv 200") {
		t.Errorf("-v logged no requests:\n%s", srv.stderr.String())
	}
}

// With revisions named, serve serves only those, pinned at start; by
// default it listens on 127.0.0.1 only; another address is used only when
// asked, with a warning.
func TestServePinnedAndAddress(t *testing.T) {
	f := newServeFixture(t)
	s := f.sandbox
	v1 := strings.TrimSpace(s.run("c", "git", "rev-parse", "v1"))
	srv := s.serve("c", "--addr", "127.0.0.1:0", "v1")
	if resp, b := srv.get("/v1/data/train.csv"); resp.StatusCode != 200 || !bytes.Equal(b, f.v1) {
		t.Errorf("pinned v1: %d", resp.StatusCode)
	}
	if resp, _ := srv.get("/" + v1 + "/README.md"); resp.StatusCode != 200 {
		t.Errorf("pinned v1 by commit id: %d", resp.StatusCode)
	}
	if resp, b := srv.get("/main/README.md"); resp.StatusCode != 404 || !strings.Contains(string(b), "not one of the revisions served") {
		t.Errorf("main, not pinned: %d %s", resp.StatusCode, b)
	}
	if _, b := srv.get("/"); !strings.Contains(string(b), `"revisions":["v1"]`) {
		t.Errorf("index: %s", b)
	}
	// The tag moves: the server still serves the commit it pinned.
	s.run("c", "git", "tag", "-f", "v1", "main")
	if _, b := srv.get("/v1/data/train.csv"); !bytes.Equal(b, f.v1) {
		t.Error("a pinned revision followed its tag")
	}
	srv.stop()

	if out, err := s.try("c", nil, "git", "lode", "serve", "nope"); err == nil || !strings.Contains(out, "cannot serve nope") {
		t.Errorf("serve of an unknown revision: %v %s", err, out)
	}
	if out, err := s.try("c", nil, "git", "lode", "serve", "--addr", "nonsense"); s.exitCode(err) != 2 {
		t.Errorf("--addr nonsense: %v %s", err, out)
	}
	help := s.run("c", "git", "lode", "serve", "--help")
	if !strings.Contains(help, `--addr string`) || !strings.Contains(help, `(default "127.0.0.1:8417")`) {
		t.Errorf("serve --help does not show the loopback default:\n%s", help)
	}
	// The default address, if free on this machine.
	def := s.cmd("c", filepath.Join(binDir, "git-lode"), "serve")
	var out bytes.Buffer
	def.Stdout, def.Stderr = &out, &out
	if err := def.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	def.Process.Signal(syscall.SIGTERM)
	def.Wait()
	switch o := out.String(); {
	case strings.Contains(o, "address already in use"):
		t.Log("127.0.0.1:8417 is taken on this machine; default address not tried")
	case !strings.HasPrefix(o, "http://127.0.0.1:8417/"):
		t.Errorf("default address: %q", o)
	}
	// Another address when asked: all interfaces, with a warning.
	any := s.serve("c", "--addr", "[::]:0")
	if !strings.Contains(any.stderr.String(), "anyone who can reach it") {
		t.Errorf("no warning for a non-loopback address: %q", any.stderr.String())
	}
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(any.url, "http://"), "/"))
	resp, err := http.Get("http://127.0.0.1:" + port + "/v1/README.md")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("serve on [::]: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// A unix socket, mode 0600.
	sock := filepath.Join(s.dir, "s.sock")
	us := s.serve("c", "--addr", "unix:"+sock)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 || us.url != "unix:"+sock {
		t.Errorf("unix socket: %v %v %q", fi, err, us.url)
	}
	us.stop()
	if _, err := os.Stat(sock); err == nil {
		t.Error("the socket is left behind")
	}
}
