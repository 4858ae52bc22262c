package filterproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The test binary doubles as a filter for real git: with filterEnv set,
// TestMain serves the protocol on stdin and stdout instead of running
// tests. filterEnv names the mode ("plain" or "delay"); logEnv names a file
// where the filter logs what it did.
const (
	filterEnv = "LODE_FILTERPROC_TEST_FILTER"
	logEnv    = "LODE_FILTERPROC_TEST_LOG"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(filterEnv); mode != "" {
		os.Exit(runFilter(mode))
	}
	os.Exit(m.Run())
}

func runFilter(mode string) int {
	log, err := os.OpenFile(os.Getenv(logEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer log.Close()
	up := &upperHandler{log: log}
	var h Handler = up
	// A small SpoolMemory makes the big file go through the disk.
	opts := Options{Stderr: os.Stderr, SpoolMemory: 64 << 10}
	if mode == "delay" || mode == "delaylight" {
		h = &delayingHandler{upperHandler: up}
		opts.Delay = true
	}
	if mode == "delaylight" {
		// Content of delayed files is not kept: read from git again.
		opts.DelayedContent = func(ctx context.Context, req *Request) ([]byte, error) {
			fmt.Fprintln(log, "reread")
			return exec.CommandContext(ctx, "git", "cat-file", "blob", req.Blob).Output()
		}
	}
	if err := Serve(context.Background(), os.Stdin, os.Stdout, h, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// marker ends every cleaned file.
const marker = "#cleaned-by-t\n"

// upperHandler cleans by upper-casing ASCII letters and appending marker,
// and smudges by undoing that. Smudging a file named bad.dat fails.
type upperHandler struct {
	log io.Writer
}

func (h *upperHandler) Clean(_ context.Context, req *Request, r io.Reader, w io.Writer) error {
	fmt.Fprintf(h.log, "clean %s\n", req.Pathname)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		b := buf[:n]
		for i, c := range b {
			if 'a' <= c && c <= 'z' {
				b[i] = c - 'a' + 'A'
			}
		}
		if _, werr := w.Write(b); werr != nil {
			return werr
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, marker)
	return err
}

func (h *upperHandler) Smudge(_ context.Context, req *Request, r io.Reader, w io.Writer) error {
	fmt.Fprintf(h.log, "smudge %s delayed=%v\n", req.Pathname, req.Delayed)
	if filepath.Base(req.Pathname) == "bad.dat" {
		return errors.New("simulated failure")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if body, ok := bytes.CutSuffix(b, []byte(marker)); ok {
		b = bytes.ToLower(body)
	}
	_, err = w.Write(b)
	return err
}

// delayingHandler delays every smudge it may and reports the delayed
// files two at a time.
type delayingHandler struct {
	*upperHandler
	pending []string
}

func (h *delayingHandler) Delay(_ context.Context, req *Request, _ []byte) (bool, error) {
	fmt.Fprintf(h.log, "delay %s\n", req.Pathname)
	h.pending = append(h.pending, req.Pathname)
	return true, nil
}

func (h *delayingHandler) Available(context.Context) ([]string, error) {
	n := min(2, len(h.pending))
	ready := h.pending[:n:n]
	h.pending = h.pending[n:]
	return ready, nil
}

// gitEnv returns an environment for git isolated from the user's and the
// system's configuration.
func gitEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	// A filter built with -race otherwise sleeps a second when it exits,
	// and git waits for it.
	env = append(env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return append(append(env,
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+filepath.Join(home, "gitconfig"),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
	), extra...)
}

type gitRepo struct {
	t   *testing.T
	dir string
	env []string
}

// run runs git and returns its standard output; it fails the test if git
// fails.
func (r *gitRepo) run(args ...string) string {
	r.t.Helper()
	out, errOut, err := r.try(args...)
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func (r *gitRepo) try(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func (r *gitRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) check(files map[string]string) {
	r.t.Helper()
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(r.dir, name))
		if err != nil {
			r.t.Fatal(err)
		}
		if string(got) != want {
			r.t.Fatalf("%s has %d bytes %q..., want %d bytes %q...", name,
				len(got), got[:min(len(got), 40)], len(want), want[:min(len(want), 40)])
		}
	}
}

func (r *gitRepo) removeAll(files map[string]string) {
	r.t.Helper()
	for name := range files {
		if err := os.Remove(filepath.Join(r.dir, name)); err != nil {
			r.t.Fatal(err)
		}
	}
}

// newGitRepo makes a repository whose *.dat files go through this test
// binary as filter "t" in the given mode.
func newGitRepo(t *testing.T, mode string) (*gitRepo, string) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found:", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "filter.log")
	r := &gitRepo{t: t, dir: t.TempDir(), env: gitEnv(t, filterEnv+"="+mode, logEnv+"="+log)}
	r.run("init", "-q", "-b", "main")
	r.run("config", "filter.t.process", "'"+exe+"'")
	r.run("config", "filter.t.required", "true")
	r.write(".gitattributes", "*.dat filter=t\n")
	return r, log
}

func lowercase(n int) string {
	b := pattern(n)
	for i, c := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[int(c)%37]
	}
	return string(b)
}

func upper(s string) string { return strings.ToUpper(s) + marker }

// logged returns the sorted lines of the filter's log that start with
// prefix, and empties the log.
func logged(t *testing.T, log, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ls []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && strings.HasPrefix(l, prefix) {
			ls = append(ls, l)
		}
	}
	sort.Strings(ls)
	if err := os.Truncate(log, 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return ls
}

func TestRealGit(t *testing.T) {
	v1 := map[string]string{
		"small.dat":     "hello world\n",
		"empty.dat":     "",
		"big.dat":       lowercase(3<<20 + 7),
		"sub/other.dat": "other\n",
		"plain.txt":     "not filtered\n",
	}
	v2 := map[string]string{
		"small.dat":     "hello again\n",
		"empty.dat":     "no longer empty\n",
		"big.dat":       lowercase(1<<20) + "tail\n",
		"sub/other.dat": "other v2\n",
		"plain.txt":     "not filtered\n",
	}
	for _, mode := range []string{"plain", "delay", "delaylight"} {
		t.Run(mode, func(t *testing.T) {
			r, log := newGitRepo(t, mode)
			for name, c := range v1 {
				r.write(name, c)
			}
			r.run("add", ".")
			r.run("commit", "-q", "-m", "v1")
			// git stored the cleaned form.
			for name, c := range v1 {
				want := c
				if strings.HasSuffix(name, ".dat") {
					want = upper(c)
				}
				if got := r.run("cat-file", "blob", "HEAD:"+name); got != want {
					t.Fatalf("stored %s = %d bytes %q..., want %d bytes", name, len(got), got[:min(len(got), 40)], len(want))
				}
			}
			logged(t, log, "")

			r.removeAll(v1)
			r.run("checkout", "--", ".")
			r.check(v1)
			smudged := logged(t, log, "")
			if mode != "plain" {
				// big.dat is larger than SpoolMemory, so it is not
				// offered to Delay.
				want := []string{"delay empty.dat", "delay small.dat", "delay sub/other.dat",
					"smudge big.dat delayed=false", "smudge empty.dat delayed=true",
					"smudge small.dat delayed=true", "smudge sub/other.dat delayed=true"}
				if mode == "delaylight" {
					// (the log is sorted)
					want = append(want[:3:3], append([]string{"reread", "reread", "reread"}, want[3:]...)...)
				}
				if strings.Join(smudged, "\n") != strings.Join(want, "\n") {
					t.Fatalf("filter log:\n%s\nwant:\n%s", strings.Join(smudged, "\n"), strings.Join(want, "\n"))
				}
			} else if len(smudged) != 4 {
				t.Fatalf("filter log:\n%s\nwant 4 smudges", strings.Join(smudged, "\n"))
			}

			for name, c := range v2 {
				r.write(name, c)
			}
			r.run("commit", "-q", "-a", "-m", "v2")
			r.run("checkout", "-q", "HEAD~1")
			r.check(v1)
			r.run("checkout", "-q", "main")
			r.check(v2)
			if mode != "plain" {
				if n := len(logged(t, log, "delay ")); n != 6 {
					t.Fatalf("%d smudges delayed over two checkouts, want 6", n)
				}
			}
		})
	}
}

func TestRealGitHandlerError(t *testing.T) {
	for _, mode := range []string{"plain", "delay"} {
		t.Run(mode, func(t *testing.T) {
			r, _ := newGitRepo(t, mode)
			r.write("bad.dat", "bad\n")
			r.write("good.dat", "good\n")
			r.run("add", ".")
			r.run("commit", "-q", "-m", "c")
			r.removeAll(map[string]string{"bad.dat": "", "good.dat": ""})
			_, stderr, err := r.try("checkout", "--", ".")
			if err == nil {
				t.Fatal("git checkout succeeded, want failure")
			}
			if !strings.Contains(stderr, "git-lode: smudge bad.dat: simulated failure") {
				t.Fatalf("git's stderr lacks the filter's message:\n%s", stderr)
			}
		})
	}
}
