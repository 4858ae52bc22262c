package filterproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHandshake(t *testing.T) {
	delayer := &funcDelayer{funcHandler: funcHandler{smudge: echo}}
	tests := []struct {
		name    string
		in      *script
		h       Handler
		delay   bool
		want    []string // capabilities answered
		wantErr error
	}{
		{name: "clean and smudge", in: new(script).handshake("clean", "smudge"), want: []string{"clean", "smudge"}},
		{name: "delay not wanted", in: new(script).handshake("clean", "smudge", "delay"), h: delayer, want: []string{"clean", "smudge"}},
		{name: "delay", in: new(script).handshake("clean", "smudge", "delay"), h: delayer, delay: true, want: []string{"clean", "smudge", "delay"}},
		{name: "delay without Delayer", in: new(script).handshake("clean", "smudge", "delay"), delay: true, want: []string{"clean", "smudge"}},
		{name: "delay not offered", in: new(script).handshake("clean", "smudge"), h: delayer, delay: true, want: []string{"clean", "smudge"}},
		{name: "only smudge offered", in: new(script).handshake("smudge"), want: []string{"smudge"}},
		{name: "unknown capability", in: new(script).handshake("teleport", "clean", "smudge"), want: []string{"clean", "smudge"}},
		{name: "nothing offered", in: new(script).handshake(), want: nil},
		{
			name: "several versions",
			in:   new(script).line("git-filter-client").line("version=3").line("version=2").flush().line("capability=clean").flush(),
			want: []string{"clean"},
		},
		{
			name: "line without newline",
			in:   new(script).raw("0015git-filter-client").raw("000dversion=2").flush().raw("0014capability=clean").flush(),
			want: []string{"clean"},
		},
		{name: "wrong welcome", in: new(script).line("git-filter-server").line("version=2").flush(), wantErr: ErrProtocol},
		{name: "welcome missing", in: new(script).flush(), wantErr: ErrProtocol},
		{name: "wrong version", in: new(script).line("git-filter-client").line("version=3").flush(), wantErr: ErrProtocol},
		{name: "no version", in: new(script).line("git-filter-client").flush(), wantErr: ErrProtocol},
		{name: "closed at once", in: new(script), wantErr: io.ErrUnexpectedEOF},
		{name: "closed in welcome", in: new(script).line("git-filter-client"), wantErr: io.ErrUnexpectedEOF},
		{name: "closed before capabilities", in: new(script).line("git-filter-client").line("version=2").flush(), wantErr: io.ErrUnexpectedEOF},
		{name: "closed in capabilities", in: new(script).line("git-filter-client").line("version=2").flush().line("capability=clean"), wantErr: io.ErrUnexpectedEOF},
		{name: "truncated header", in: new(script).raw("00"), wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", in: new(script).raw("0015git-filter"), wantErr: io.ErrUnexpectedEOF},
		{name: "bad length", in: new(script).raw("zz15git-filter-client\n"), wantErr: ErrProtocol},
		{name: "delim packet", in: new(script).raw("0001"), wantErr: ErrProtocol},
		{name: "too long", in: new(script).raw("fff1"), wantErr: ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if h == nil {
				h = &funcHandler{clean: echo, smudge: echo}
			}
			var out bytes.Buffer
			err := Serve(context.Background(), bytes.NewReader(tt.in.Bytes()), &out, h, Options{Delay: tt.delay})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Serve = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Serve = %v", err)
			}
			g := newGitReader(&out)
			hello, err := g.lines()
			if err != nil || !reflect.DeepEqual(hello, []string{"git-filter-server", "version=2"}) {
				t.Fatalf("welcome = %q, %v", hello, err)
			}
			caps, err := g.lines()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range caps {
				got = append(got, strings.TrimPrefix(c, "capability="))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("capabilities = %q, want %q", got, tt.want)
			}
			if _, err := g.packet(); err != io.EOF {
				t.Fatalf("after handshake: %v, want EOF", err)
			}
		})
	}
}

var errBoom = errors.New("boom")

func TestRequests(t *testing.T) {
	big := pattern(3<<20 + 12345)
	small := []byte("hello, world\n")
	summary := func(cmd, path string, b []byte) string {
		return fmt.Sprintf("%s %s len=%d head=%q", cmd, path, len(b), b[:min(len(b), 8)])
	}
	ok := func(content string) resp { return resp{status: "success", content: content} }
	failAfter := func(content, final string) resp { return resp{status: "success", content: content, final: final} }

	tests := []struct {
		name       string
		h          *funcHandler
		spoolMem   int
		in         *script // after the handshake
		want       []resp
		wantErr    error // nil: Serve returns nil
		wantStderr string
	}{
		{
			name: "clean empty small big",
			h:    &funcHandler{clean: summarize},
			in:   new(script).clean("e", nil).clean("s", small).clean("b", big),
			want: []resp{ok(summary("clean", "e", nil)), ok(summary("clean", "s", small)), ok(summary("clean", "b", big))},
		},
		{
			name: "smudge empty small big",
			h:    &funcHandler{smudge: echo},
			in:   new(script).smudge("e", nil).smudge("s", small).smudge("b", big),
			want: []resp{ok(""), ok(string(small)), ok(string(big))},
		},
		{
			name:     "smudge spilled to disk",
			h:        &funcHandler{smudge: echo},
			spoolMem: 100000,
			in:       new(script).smudge("b", big).smudge("s", small).smudge("b2", big),
			want:     []resp{ok(string(big)), ok(string(small)), ok(string(big))},
		},
		{
			name: "clean passing content through",
			h:    &funcHandler{clean: echo},
			in:   new(script).clean("b", big).clean("s", small),
			want: []resp{ok(string(big)), ok(string(small))},
		},
		{
			name:     "clean passing content through, held output spilled",
			h:        &funcHandler{clean: echo},
			spoolMem: 70000,
			in:       new(script).clean("b", big).clean("s", small),
			want:     []resp{ok(string(big)), ok(string(small))},
		},
		{
			name: "clean reading with small buffers",
			h: &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				_, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, make([]byte, 1000))
				return err
			}},
			in:   new(script).clean("b", big),
			want: []resp{ok(string(big))},
		},
		{
			name: "clean not reading its content",
			h: &funcHandler{clean: func(_ context.Context, _ *Request, _ io.Reader, w io.Writer) error {
				_, err := io.WriteString(w, "constant")
				return err
			}},
			in:   new(script).clean("b", big).clean("s", small),
			want: []resp{ok("constant"), ok("constant")},
		},
		{
			name: "clean writing before reading",
			h: &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				io.WriteString(w, "head:")
				io.CopyN(w, r, 5)
				io.WriteString(w, ":tail:")
				_, err := io.Copy(w, r)
				return err
			}},
			in:   new(script).clean("s", small),
			want: []resp{ok("head:hello:tail:, world\n")},
		},
		{
			name: "request metadata",
			h: &funcHandler{smudge: func(_ context.Context, req *Request, _ io.Reader, w io.Writer) error {
				_, err := fmt.Fprintf(w, "%+v", *req)
				return err
			}},
			in: new(script).request(small, "command=smudge", "pathname=dir/a b=c.dat", "ref=refs/heads/main",
				"treeish=1234", "blob=abcd", "future-key=x", "no equals sign", "can-delay=1"),
			want: []resp{ok("{Command:smudge Pathname:dir/a b=c.dat Ref:refs/heads/main Treeish:1234 Blob:abcd CanDelay:true Delayed:false}")},
		},
		{
			name:       "clean error before writing",
			h:          &funcHandler{clean: func(context.Context, *Request, io.Reader, io.Writer) error { return errBoom }},
			in:         new(script).clean("data/big.csv", big).clean("s", small),
			want:       []resp{{status: "error"}, {status: "error"}},
			wantStderr: "git-lode: clean data/big.csv: boom\ngit-lode: clean s: boom\n",
		},
		{
			name: "clean error while output is held",
			h: &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				io.CopyN(w, r, 3)
				return errBoom
			}},
			in:         new(script).clean("a", small),
			want:       []resp{{status: "error"}},
			wantStderr: "git-lode: clean a: boom\n",
		},
		{
			name: "clean error after writing held output",
			h: &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				io.Copy(w, r) // the last Write comes before r's EOF: all is held
				return errBoom
			}},
			in:         new(script).clean("a", small),
			want:       []resp{{status: "error"}},
			wantStderr: "git-lode: clean a: boom\n",
		},
		{
			name: "clean error after writing",
			h: &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				b, _ := io.ReadAll(r)
				w.Write(b)
				return errBoom
			}},
			in:         new(script).clean("a", small).clean("b", nil),
			want:       []resp{failAfter(string(small), "error"), {status: "error"}},
			wantStderr: "git-lode: clean a: boom\ngit-lode: clean b: boom\n",
		},
		{
			name: "smudge error before writing",
			h: &funcHandler{smudge: func(context.Context, *Request, io.Reader, io.Writer) error {
				return fmt.Errorf("fetch: %w", errBoom)
			}},
			in:         new(script).smudge("data/big.csv", big),
			want:       []resp{{status: "error"}},
			wantStderr: "git-lode: smudge data/big.csv: fetch: boom\n",
		},
		{
			name: "smudge error after writing",
			h: &funcHandler{smudge: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				io.Copy(w, r)
				return errBoom
			}},
			in:         new(script).smudge("a", big).smudge("b", small),
			want:       []resp{failAfter(string(big), "error"), failAfter(string(small), "error")},
			wantStderr: "git-lode: smudge a: boom\ngit-lode: smudge b: boom\n",
		},
		{
			name: "abort before writing",
			h: &funcHandler{smudge: func(context.Context, *Request, io.Reader, io.Writer) error {
				return fmt.Errorf("no remote: %w", ErrAbort)
			}},
			in:         new(script).smudge("a", small),
			want:       []resp{{status: "abort"}},
			wantStderr: "git-lode: smudge a: no remote: filter aborted\n",
		},
		{
			name: "abort after writing",
			h: &funcHandler{clean: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				b, _ := io.ReadAll(r)
				w.Write(b)
				return ErrAbort
			}},
			in:         new(script).clean("a", small),
			want:       []resp{failAfter(string(small), "abort")},
			wantStderr: "git-lode: clean a: filter aborted\n",
		},
		{
			name:       "unknown command",
			h:          &funcHandler{smudge: echo},
			in:         new(script).line("command=frobnicate").line("pathname=x").flush().smudge("s", small),
			want:       []resp{{status: "error"}, ok(string(small))},
			wantStderr: "git-lode: frobnicate x: unknown command \"frobnicate\"\n",
		},
		{
			name:       "list_available_blobs without delay",
			h:          &funcHandler{smudge: echo},
			in:         new(script).line("command=list_available_blobs").flush().smudge("s", small),
			want:       []resp{{status: "error"}, ok(string(small))},
			wantStderr: "git-lode: list_available_blobs: unknown command",
		},
		{
			name: "closed in key list",
			h:    &funcHandler{smudge: echo},
			in:   new(script).smudge("s", small).line("command=smudge"),
			want: []resp{ok(string(small))}, wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "closed in content",
			h:       &funcHandler{smudge: echo},
			in:      new(script).line("command=smudge").line("pathname=a").flush().data(big[:200000]),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "closed in clean content",
			h:       &funcHandler{clean: echo},
			in:      new(script).line("command=clean").line("pathname=a").flush().data(big[:200000]),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "closed in clean content not read",
			h:       &funcHandler{clean: func(context.Context, *Request, io.Reader, io.Writer) error { return nil }},
			in:      new(script).line("command=clean").line("pathname=a").flush().data(big[:200000]),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "closed in packet",
			h:       &funcHandler{smudge: echo},
			in:      new(script).line("command=smudge").line("pathname=a").flush().raw("0010abc"),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "malformed content packet",
			h:       &funcHandler{clean: echo},
			in:      new(script).line("command=clean").line("pathname=a").flush().raw("00x0"),
			wantErr: ErrProtocol,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spoolDir := t.TempDir()
			in := new(script).handshake("clean", "smudge")
			in.Write(tt.in.Bytes())
			var out, stderr bytes.Buffer
			err := Serve(context.Background(), bytes.NewReader(in.Bytes()), &out, tt.h,
				Options{Stderr: &stderr, SpoolDir: spoolDir, SpoolMemory: tt.spoolMem})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Serve = %v, want %v", err, tt.wantErr)
			}
			g := newGitReader(&out)
			g.lines()
			g.lines()
			for i, want := range tt.want {
				got, err := g.response()
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				checkSizes(t, got.sizes)
				got.sizes = nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("response %d = %s, want %s", i, clipResp(got), clipResp(want))
				}
			}
			if p, err := g.packet(); err != io.EOF {
				t.Errorf("unexpected output after the responses: %q, %v", p[:min(len(p), 40)], err)
			}
			if !strings.HasPrefix(stderr.String(), tt.wantStderr) || tt.wantStderr == "" && stderr.Len() > 0 {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
			if left, _ := os.ReadDir(spoolDir); len(left) > 0 {
				t.Errorf("spool files left: %v", left)
			}
		})
	}
}

// checkSizes fails unless every content packet but the last is full.
func checkSizes(t *testing.T, sizes []int) {
	t.Helper()
	for i, n := range sizes {
		if n == 0 || i < len(sizes)-1 && n != MaxPayload {
			t.Fatalf("content packet %d of %d has %d bytes", i, len(sizes), n)
		}
	}
}

func clipResp(r resp) string {
	c := r.content
	if len(c) > 100 {
		c = fmt.Sprintf("%q...(%d bytes)", c[:100], len(c))
	} else {
		c = fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("{status=%s content=%s final=%q}", r.status, c, r.final)
}

// TestSpoolWhileHandlerRuns checks that large smudge content is on disk,
// unlinked, while the Handler runs, and that the Handler sees all of it.
func TestSpoolWhileHandlerRuns(t *testing.T) {
	dir := t.TempDir()
	content := pattern(1 << 20)
	var sawFiles int
	h := &funcHandler{smudge: func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
		entries, _ := os.ReadDir(dir)
		sawFiles = len(entries)
		if _, ok := r.(*bytes.Reader); ok {
			return errors.New("content was kept in memory")
		}
		return echo(context.Background(), nil, r, w)
	}}
	in := new(script).handshake("smudge").smudge("a", content)
	var out bytes.Buffer
	if err := Serve(context.Background(), bytes.NewReader(in.Bytes()), &out, h, Options{SpoolDir: dir, SpoolMemory: 4096}); err != nil {
		t.Fatal(err)
	}
	g := newGitReader(&out)
	g.lines()
	g.lines()
	got, err := g.response()
	if err != nil || got.status != "success" || got.content != string(content) {
		t.Fatalf("response = %s, %v", clipResp(got), err)
	}
	if sawFiles != 0 {
		t.Fatalf("%d named spool files while the handler ran, want 0 (unlinked)", sawFiles)
	}
}

// TestNoResponseBeforeContent checks the deadlock rule: nothing reaches git
// before the whole request content has been read, even when a clean
// Handler writes before reading.
func TestNoResponseBeforeContent(t *testing.T) {
	for _, cmd := range []string{"clean", "smudge"} {
		t.Run(cmd, func(t *testing.T) {
			w := func(_ context.Context, _ *Request, r io.Reader, w io.Writer) error {
				io.WriteString(w, "early")
				_, err := io.Copy(w, r)
				return err
			}
			h := &funcHandler{clean: w, smudge: w}
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- Serve(context.Background(), inR, outW, h, Options{}); outW.Close() }()
			defer func() {
				inW.Close()
				outR.Close() // unblocks Serve if the test failed mid-response
				if err := <-done; err != nil && !t.Failed() {
					t.Error(err)
				}
			}()
			g := newGitReader(outR)
			inW.Write(new(script).handshake("clean", "smudge").Bytes())
			g.lines()
			g.lines()

			first := make(chan struct{})
			go func() {
				g.r.Peek(1)
				close(first)
			}()
			content := pattern(1 << 20)
			req := new(script).request(content, "command="+cmd, "pathname=a")
			b := req.Bytes()
			wrote := make(chan struct{})
			go func() {
				inW.Write(b[:len(b)-4]) // all but the final flush
				close(wrote)
			}()
			select {
			case <-first:
				t.Fatal("the filter answered before the content's flush")
			case <-wrote:
			}
			select {
			case <-first:
				t.Fatal("the filter answered before the content's flush")
			case <-time.After(50 * time.Millisecond):
			}
			inW.Write(b[len(b)-4:])
			<-first
			got, err := g.response()
			if err != nil || got.content != "early"+string(content) {
				t.Fatalf("response = %s, %v", clipResp(got), err)
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	tests := []struct {
		name string
		// block, if set, makes the smudge Handler wait for ctx.
		block bool
	}{
		{name: "blocked reading git"},
		{name: "blocked in handler", block: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inR, inW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			outR, outW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { inR.Close(); inW.Close(); outR.Close(); outW.Close() }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := make(chan struct{})
			h := &funcHandler{smudge: func(ctx context.Context, _ *Request, _ io.Reader, _ io.Writer) error {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			}}
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, inR, outW, h, Options{}) }()
			in := new(script).handshake("smudge")
			if tt.block {
				in.smudge("a", []byte("x"))
			}
			if _, err := inW.Write(in.Bytes()); err != nil {
				t.Fatal(err)
			}
			g := newGitReader(outR)
			g.lines()
			g.lines()
			if tt.block {
				<-started
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Serve = %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return after cancel")
			}
		})
	}
}

// TestWriteError checks that a failure to write to git ends Serve.
func TestWriteError(t *testing.T) {
	in := new(script).handshake("clean", "smudge").smudge("a", pattern(1<<20))
	h := &funcHandler{smudge: echo}
	err := Serve(context.Background(), bytes.NewReader(in.Bytes()), &failWriter{n: 3}, h, Options{})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Serve = %v, want %v", err, errBoom)
	}
}

// failWriter fails every Write after n.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n--; w.n < 0 {
		return 0, errBoom
	}
	return len(p), nil
}
