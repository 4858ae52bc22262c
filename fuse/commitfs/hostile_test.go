package commitfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lodevcs/lode/cas/pointer"
)

// TestHiddenDotGit mounts a tree that git would refuse to check out: .git
// directories in several spellings at several depths, and a .gitmodules
// symlink. None of them is listed or found; each is logged once.
func TestHiddenDotGit(t *testing.T) {
	m := newMemObjects()
	config := m.blob([]byte("[core]\n\tfsmonitor = \"touch /tmp/pwned\"\n"))
	dotgit := m.tree(
		Entry{Name: "config", Mode: ModeRegular, Hash: config},
		Entry{Name: "HEAD", Mode: ModeRegular, Hash: m.blob([]byte("ref: refs/heads/main\n"))},
	)
	ok := m.blob([]byte("ok\n"))
	b := m.tree(
		Entry{Name: "git~1", Mode: ModeDir, Hash: dotgit},
		Entry{Name: "keep.txt", Mode: ModeRegular, Hash: ok},
	)
	a := m.tree(Entry{Name: "b", Mode: ModeDir, Hash: b})
	sub := m.tree(
		Entry{Name: ".GIT", Mode: ModeDir, Hash: dotgit},
		Entry{Name: ".gitx", Mode: ModeRegular, Hash: ok},
		Entry{Name: ".gitmodules", Mode: ModeSymlink, Hash: m.blob([]byte("/etc/passwd"))},
	)
	root := m.tree(
		Entry{Name: ".git", Mode: ModeDir, Hash: dotgit},
		Entry{Name: ".git.", Mode: ModeDir, Hash: dotgit},
		Entry{Name: ".g\u200cit", Mode: ModeRegular, Hash: ok},
		Entry{Name: ".gitignore", Mode: ModeRegular, Hash: ok},
		Entry{Name: "a", Mode: ModeDir, Hash: a},
		Entry{Name: "sub", Mode: ModeDir, Hash: sub},
	)
	var logs logBuf
	_, dir := mount(t, Options{Root: root, Objects: m, Files: newFakeFiles(), Logf: logs.logf})
	p := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }

	list := func(d string) string {
		t.Helper()
		es, err := os.ReadDir(p(d))
		if err != nil {
			t.Fatalf("readdir /%s: %v", d, err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return strings.Join(names, " ")
	}
	for d, want := range map[string]string{
		"":    ".gitignore a sub",
		"sub": ".gitx",
		"a/b": "keep.txt",
	} {
		if got := list(d); got != want {
			t.Errorf("/%s lists %q, want %q", d, got, want)
		}
	}
	for _, name := range []string{".git", ".git/config", ".GIT", ".git.", ".git./config", ".g\u200cit", "sub/.GIT/config", "sub/.gitmodules", "a/b/git~1", "a/b/git~1/HEAD"} {
		if _, err := os.Lstat(p(name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("lstat %q: %v, want ENOENT", name, err)
		}
	}
	if b, err := os.ReadFile(p("a/b/keep.txt")); err != nil || string(b) != "ok\n" {
		t.Errorf("a/b/keep.txt: %q, %v", b, err)
	}
	log := logs.String()
	for _, want := range []string{`"/.git" hidden`, `"/.git." hidden`, `"/.g\u200cit" hidden`, `"/sub/.GIT" hidden`, `"/sub/.gitmodules" hidden`, `"/a/b/git~1" hidden`} {
		if strings.Count(log, want) != 1 {
			t.Errorf("log has %q %d times, want once; log:\n%s", want, strings.Count(log, want), log)
		}
	}
}

// TestDamagedPointers mounts blobs that start like lode pointers but do
// not parse: a malformed one and one of a version this build does not
// know. They are listed, but opening or reading them fails with EIO and
// logs the path and the parse error, as checkout's smudge fails; content
// that is merely not a pointer is shown as it is.
func TestDamagedPointers(t *testing.T) {
	m := newMemObjects()
	good := newFakeFiles().add("x", 1000).ptr.Encode()
	version, _, _ := strings.Cut(string(good), "\n") // whichever version this build writes
	damaged := map[string][]byte{
		"damaged.bin":   []byte(version + "\noid blake3:0123\nsize 12\n"),
		"future.bin":    []byte(pointer.Prefix + "9" + strings.TrimPrefix(string(good), version)),
		"truncated.bin": good[:len(good)-3],
	}
	plain := map[string]string{
		"prose.txt": "version control is fun\n",
		"short.txt": pointer.Prefix[:10], // a prefix of a pointer, but not one
	}
	var es []Entry
	for name, b := range plain {
		es = append(es, Entry{Name: name, Mode: ModeRegular, Hash: m.blob([]byte(b))})
	}
	for name, b := range damaged {
		es = append(es, Entry{Name: name, Mode: ModeExecutable, Hash: m.blob(b)})
	}
	var logs logBuf
	_, dir := mount(t, Options{Root: m.tree(es...), Objects: m, Files: newFakeFiles(), Logf: logs.logf})
	p := func(name string) string { return filepath.Join(dir, name) }

	for name, b := range damaged {
		_, perr := pointer.Parse(b)
		if perr == nil || errors.Is(perr, pointer.ErrNotPointer) {
			t.Fatalf("%s: pointer.Parse: %v; the test wants a damaged pointer", name, perr)
		}
		fi, err := os.Stat(p(name))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("stat %s: %v, %v; want a regular file", name, fi, err)
		}
		if _, err := os.ReadFile(p(name)); !errors.Is(err, syscall.EIO) {
			t.Errorf("read %s: %v, want EIO", name, err)
		}
		if log := logs.String(); !strings.Contains(log, "/"+name) || !strings.Contains(log, perr.Error()) {
			t.Errorf("log lacks %s and %q; log:\n%s", name, perr, log)
		}
	}
	for name, want := range plain {
		if b, err := os.ReadFile(p(name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
		if log := logs.String(); strings.Contains(log, name) {
			t.Errorf("content that is not a pointer is logged:\n%s", log)
		}
	}
}
