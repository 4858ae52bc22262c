package commitfs

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/hooks/gitrepo"
)

const requireToolsVar = "LODE_TEST_REQUIRE_TOOLS"

// skipOrFail skips the test with reason, or fails it when
// LODE_TEST_REQUIRE_TOOLS is set.
func skipOrFail(tb testing.TB, reason string) {
	tb.Helper()
	if os.Getenv(requireToolsVar) != "" {
		tb.Fatalf("%s (%s is set)", reason, requireToolsVar)
	}
	tb.Skip(reason)
}

// requireFUSE skips unless this process can mount FUSE filesystems.
func requireFUSE(tb testing.TB) {
	tb.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		skipOrFail(tb, fmt.Sprintf("FUSE unusable: %v", err))
		return
	}
	f.Close()
	if os.Geteuid() != 0 {
		if _, err := fusermountBinary(); err != nil {
			skipOrFail(tb, fmt.Sprintf("FUSE unusable without root: %v", err))
		}
	}
}

func requireGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		skipOrFail(tb, fmt.Sprintf("git not found on PATH: %v", err))
	}
}

// gitEnv returns an environment for git that ignores the user's and the
// system's configuration.
func gitEnv(tb testing.TB) []string {
	tb.Helper()
	home := tb.TempDir()
	global := filepath.Join(home, "gitconfig")
	if err := os.WriteFile(global, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+global,
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_AUTHOR_DATE=1700000000 +0000", "GIT_COMMITTER_DATE=1700000000 +0000",
		"LC_ALL=C",
	)
}

// gitRepo is a scratch repository driven by the git binary.
type gitRepo struct {
	tb  testing.TB
	dir string
	env []string
}

func newGitRepo(tb testing.TB) *gitRepo {
	tb.Helper()
	requireGit(tb)
	g := &gitRepo{tb: tb, dir: filepath.Join(tb.TempDir(), "repo"), env: gitEnv(tb)}
	g.git(nil, "init", "-q", "-b", "main", g.dir)
	return g
}

// git runs git in the repository with stdin and returns its trimmed output.
func (g *gitRepo) git(stdin []byte, args ...string) string {
	g.tb.Helper()
	cmd := exec.Command("git", args...)
	if _, err := os.Stat(g.dir); err == nil {
		cmd.Dir = g.dir
	}
	cmd.Env = g.env
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		g.tb.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// write creates the file name (slash-separated) in the work tree.
func (g *gitRepo) write(name string, data []byte, perm os.FileMode) {
	g.tb.Helper()
	p := filepath.Join(g.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.tb.Fatal(err)
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		g.tb.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		g.tb.Fatal(err)
	}
}

func (g *gitRepo) symlink(name, target string) {
	g.tb.Helper()
	p := filepath.Join(g.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.tb.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		g.tb.Fatal(err)
	}
}

// rootTree opens the repository through gitrepo and returns the objects
// adapter and the root tree of rev.
func (g *gitRepo) rootTree(rev string) (Objects, Hash) {
	g.tb.Helper()
	r, err := gitrepo.Open(g.dir)
	if err != nil {
		g.tb.Fatal(err)
	}
	g.tb.Cleanup(func() { r.Close() })
	c, err := r.Resolve(rev)
	if err != nil {
		g.tb.Fatal(err)
	}
	tree, err := r.CommitTree(c)
	if err != nil {
		g.tb.Fatal(err)
	}
	return &repoObjects{r: r}, Hash(tree)
}

// repoObjects adapts *gitrepo.Repo to Objects, as cmd does, and counts
// tree reads.
type repoObjects struct {
	r     *gitrepo.Repo
	trees atomic.Int64
}

func (o *repoObjects) ReadTree(ctx context.Context, h Hash) ([]Entry, error) {
	o.trees.Add(1)
	es, err := o.r.ReadTree(plumbing.Hash(h))
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{Name: e.Name, Mode: uint32(e.Mode), Hash: Hash(e.Hash)}
	}
	return out, nil
}

func (o *repoObjects) BlobHead(ctx context.Context, h Hash, max int64) (int64, []byte, error) {
	return o.r.BlobHead(plumbing.Hash(h), max)
}

func (o *repoObjects) ReadBlob(ctx context.Context, h Hash) ([]byte, error) {
	return o.r.ReadBlob(plumbing.Hash(h))
}

// pattern is deterministic file content: byte o of a file is
// pattern[o % len(pattern)]. Its length is not a multiple of the page
// size, so a page served at the wrong offset shows.
type pattern []byte

func newPattern(seed uint64) pattern {
	p := make(pattern, 1<<20+7)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= len(p); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return p
}

// fill writes the content at off into b.
func (p pattern) fill(b []byte, off int64) {
	for len(b) > 0 {
		n := copy(b, p[off%int64(len(p)):])
		b = b[n:]
		off += int64(n)
	}
}

// fakeFile is a lode file that fakeFiles serves from a pattern.
type fakeFile struct {
	ptr     pointer.Pointer
	pat     pattern
	failAt  int64 // a read covering this offset fails; -1: never
	shortAt int64 // a read covering this offset returns fewer bytes; -1: never
}

func (f *fakeFile) content(off, n int64) []byte {
	b := make([]byte, n)
	f.pat.fill(b, off)
	return b
}

// fakeFiles is an in-memory Files.
type fakeFiles struct {
	mu    sync.Mutex // guards files
	files map[cas.ID]*fakeFile

	opens   atomic.Int64
	reads   atomic.Int64
	bytes   atomic.Int64
	maxRead atomic.Int64
}

func newFakeFiles() *fakeFiles { return &fakeFiles{files: map[cas.ID]*fakeFile{}} }

// add makes a file of size bytes and returns it; its pointer's oid is
// derived from name.
func (f *fakeFiles) add(name string, size int64) *fakeFile {
	return f.addPattern(name, size, newPattern(uint64(len(name))*7919+uint64(size)))
}

// addPattern is add with the file's content from pat.
func (f *fakeFiles) addPattern(name string, size int64, pat pattern) *fakeFile {
	oid := cas.Sum([]byte(name))
	if size == 0 {
		oid = cas.Sum(nil)
	}
	var man cas.ID // a file of several chunks has a manifest id
	if size > 8<<10 {
		man = cas.Sum([]byte("manifest of " + name))
	}
	ff := &fakeFile{ptr: pointer.New(oid, size, man), pat: pat, failAt: -1, shortAt: -1}
	f.mu.Lock()
	f.files[oid] = ff
	f.mu.Unlock()
	return ff
}

func (f *fakeFiles) Open(ctx context.Context, p pointer.Pointer) (LodeFile, error) {
	f.opens.Add(1)
	f.mu.Lock()
	ff, ok := f.files[p.OID]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("oid %s: %w", p.OID.Short(), cas.ErrNotFound)
	}
	return fakeLodeFile{f, ff}, nil
}

type fakeLodeFile struct {
	fs *fakeFiles
	f  *fakeFile
}

func (l fakeLodeFile) Size() int64            { return l.f.ptr.Size }
func (l fakeLodeFile) NewReader() RangeReader { return l }

var errInjected = errors.New("chunk 0123456789ab: object not found (injected)")

func (l fakeLodeFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	l.fs.reads.Add(1)
	for {
		m := l.fs.maxRead.Load()
		if int64(len(p)) <= m || l.fs.maxRead.CompareAndSwap(m, int64(len(p))) {
			break
		}
	}
	f := l.f
	if off >= f.ptr.Size {
		return 0, nil
	}
	n := min(int64(len(p)), f.ptr.Size-off)
	if f.failAt >= off && f.failAt < off+n {
		return 0, errInjected
	}
	if f.shortAt >= off && f.shortAt < off+n {
		n = f.shortAt - off
	}
	f.pat.fill(p[:n], off)
	l.fs.bytes.Add(n)
	return int(n), nil
}

// logBuf collects Logf output.
type logBuf struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// mount mounts opts at a new temporary directory and unmounts it when the
// test ends.
func mount(tb testing.TB, opts Options) (*Server, string) {
	tb.Helper()
	requireFUSE(tb)
	dir := filepath.Join(tb.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	srv, err := Mount(dir, opts)
	if err != nil {
		skipOrFail(tb, fmt.Sprintf("cannot mount FUSE here: %v", err))
	}
	tb.Cleanup(func() {
		if ok, _ := isMountPoint(dir); ok {
			if err := srv.Unmount(); err != nil {
				tb.Errorf("unmount: %v", err)
				_ = Unmount(dir, UnmountOptions{Lazy: true})
			}
		}
	})
	return srv, dir
}

// memObjects is an in-memory Objects with failure injection.
// Its maps are filled before mounting and only read after.
type memObjects struct {
	trees    map[Hash][]Entry
	blobs    map[Hash][]byte
	fail     map[Hash]error // every read of the object fails
	failRead map[Hash]error // ReadBlob fails (BlobHead works)

	heads atomic.Int64 // BlobHead calls
}

func newMemObjects() *memObjects {
	return &memObjects{trees: map[Hash][]Entry{}, blobs: map[Hash][]byte{}, fail: map[Hash]error{}, failRead: map[Hash]error{}}
}

func memHash(kind string, b []byte) Hash {
	id := cas.Sum(append([]byte(kind+"\x00"), b...))
	var h Hash
	copy(h[:], id[:])
	return h
}

func (m *memObjects) blob(b []byte) Hash {
	h := memHash("blob", b)
	m.blobs[h] = b
	return h
}

func (m *memObjects) tree(es ...Entry) Hash {
	var key []byte
	for _, e := range es {
		key = fmt.Appendf(key, "%o %s %x\n", e.Mode, e.Name, e.Hash)
	}
	h := memHash("tree", key)
	m.trees[h] = es
	return h
}

func (m *memObjects) ReadTree(ctx context.Context, h Hash) ([]Entry, error) {
	if err := m.fail[h]; err != nil {
		return nil, err
	}
	es, ok := m.trees[h]
	if !ok {
		return nil, fmt.Errorf("tree %s not found", h)
	}
	return es, nil
}

func (m *memObjects) BlobHead(ctx context.Context, h Hash, max int64) (int64, []byte, error) {
	m.heads.Add(1)
	if err := m.fail[h]; err != nil {
		return 0, nil, err
	}
	b, ok := m.blobs[h]
	if !ok {
		return 0, nil, fmt.Errorf("blob %s not found", h)
	}
	if int64(len(b)) > max {
		return int64(len(b)), nil, nil
	}
	return int64(len(b)), b, nil
}

func (m *memObjects) ReadBlob(ctx context.Context, h Hash) ([]byte, error) {
	if err := cmp.Or(m.fail[h], m.failRead[h]); err != nil {
		return nil, err
	}
	b, ok := m.blobs[h]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", h)
	}
	return b, nil
}
