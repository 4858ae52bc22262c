package commitfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/lodevcs/lode/cas"
)

// fakeForeign reads blobs "fake-lfs NAME\n" as pointers to objects[NAME];
// an object that is damaged fails Open with cas.ErrCorrupt, one that is
// not there with a message saying what to run.
type fakeForeign struct {
	objects map[string][]byte
	damaged map[string]bool
	opens   atomic.Int64
}

func (f *fakeForeign) Parse(blob []byte) (ForeignPointer, bool) {
	name, ok := bytes.CutPrefix(blob, []byte("fake-lfs "))
	if !ok || !bytes.HasSuffix(name, []byte("\n")) {
		return ForeignPointer{}, false
	}
	n := string(name[:len(name)-1])
	size := int64(len(f.objects[n]))
	if size == 0 {
		size = 12345 // missing: the pointer still has a size
	}
	return ForeignPointer{Tool: "fake-lfs", OID: "sha256:" + n, Size: size}, true
}

func (f *fakeForeign) Open(ctx context.Context, p ForeignPointer) (LodeFile, error) {
	f.opens.Add(1)
	name := strings.TrimPrefix(p.OID, "sha256:")
	data, ok := f.objects[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("object %s is not in the store: run 'git lfs fetch'", p.OID)
	case f.damaged[name]:
		return nil, fmt.Errorf("%w: object %s hashes to something else", cas.ErrCorrupt, p.OID)
	}
	return bytesFile(data), nil
}

type bytesFile []byte

func (b bytesFile) Size() int64            { return int64(len(b)) }
func (b bytesFile) NewReader() RangeReader { return b }
func (b bytesFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	return copy(p, b[off:]), nil
}

// foreignTree is a tree with a good, a damaged and a missing foreign
// file, a lode file and a plain file.
func foreignTree(t *testing.T) (*memObjects, Hash, *fakeForeign, *fakeFiles, []byte) {
	t.Helper()
	m := newMemObjects()
	files := newFakeFiles()
	lode := files.add("lode", 100000)
	good := bytes.Repeat([]byte("weights "), 300000) // 2.4 MB
	ff := &fakeForeign{
		objects: map[string][]byte{"good": good, "bad": []byte("damaged bytes")},
		damaged: map[string]bool{"bad": true},
	}
	data := m.tree(
		Entry{Name: "bad.bin", Mode: ModeRegular, Hash: m.blob([]byte("fake-lfs bad\n"))},
		Entry{Name: "gone.bin", Mode: ModeRegular, Hash: m.blob([]byte("fake-lfs gone\n"))},
		Entry{Name: "model.bin", Mode: ModeExecutable, Hash: m.blob([]byte("fake-lfs good\n"))},
		Entry{Name: "new.bin", Mode: ModeRegular, Hash: m.blob(lode.ptr.Encode())},
		Entry{Name: "plain.txt", Mode: ModeRegular, Hash: m.blob([]byte("fake-lfs but not a pointer"))},
	)
	root := m.tree(Entry{Name: "data", Mode: ModeDir, Hash: data})
	return m, root, ff, files, good
}

// The mount shows a foreign pointer's file at its size, listing it without
// opening it, and serves its bytes; a damaged object is EIO, logged with
// path and oid; a missing one is EIO, logged with what to run; without
// Foreign the blob is shown as it is.
func TestMountForeign(t *testing.T) {
	for _, withOpens := range []bool{false, true} {
		t.Run(fmt.Sprintf("withOpens=%v", withOpens), func(t *testing.T) {
			m, root, ff, files, good := foreignTree(t)
			var logs logBuf
			_, dir := mount(t, Options{Root: root, Objects: m, Files: files, Foreign: ff, Logf: logs.logf, withOpens: withOpens})
			p := func(name string) string { return filepath.Join(dir, "data", name) }
			es, err := os.ReadDir(filepath.Join(dir, "data"))
			if err != nil || len(es) != 5 {
				t.Fatalf("readdir: %v, %v", es, err)
			}
			for name, want := range map[string]int64{"model.bin": int64(len(good)), "gone.bin": 12345, "plain.txt": int64(len("fake-lfs but not a pointer")), "new.bin": 100000} {
				fi, err := os.Stat(p(name))
				if err != nil || fi.Size() != want {
					t.Errorf("stat %s: %v, %v; want size %d", name, fi, err, want)
				}
			}
			if fi, _ := os.Stat(p("model.bin")); fi == nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("model.bin: mode %v, want 0755", fi)
			}
			if n := ff.opens.Load(); n != 0 {
				t.Errorf("listing and stat opened %d foreign files, want none", n)
			}
			if b, err := os.ReadFile(p("model.bin")); err != nil || !bytes.Equal(b, good) {
				t.Errorf("model.bin: %d bytes, %v", len(b), err)
			}
			if _, err := os.ReadFile(p("bad.bin")); !errors.Is(err, syscall.EIO) {
				t.Errorf("bad.bin: %v, want EIO", err)
			}
			if _, err := os.ReadFile(p("gone.bin")); !errors.Is(err, syscall.EIO) {
				t.Errorf("gone.bin: %v, want EIO", err)
			}
			log := logs.String()
			if !strings.Contains(log, "/data/bad.bin (fake-lfs oid sha256:bad)") || !strings.Contains(log, "corrupt") {
				t.Errorf("the damaged object is not logged with its path and oid:\n%s", log)
			}
			if !strings.Contains(log, "/data/gone.bin (fake-lfs oid sha256:gone)") || !strings.Contains(log, "git lfs fetch") {
				t.Errorf("the missing object is not logged with what to run:\n%s", log)
			}
			if b, err := os.ReadFile(p("plain.txt")); err != nil || string(b) != "fake-lfs but not a pointer" {
				t.Errorf("plain.txt: %q, %v", b, err)
			}
		})
	}
	t.Run("noForeign", func(t *testing.T) {
		m, root, _, files, _ := foreignTree(t)
		_, dir := mount(t, Options{Root: root, Objects: m, Files: files})
		if b, err := os.ReadFile(filepath.Join(dir, "data/model.bin")); err != nil || string(b) != "fake-lfs good\n" {
			t.Errorf("model.bin without Foreign: %q, %v", b, err)
		}
	})
}

// Trees shows foreign files as the mount does: the pointer's size and oid
// in listings (nothing opened), their bytes through Open, and errors
// (cas.ErrCorrupt for a damaged object) from Open, before any byte.
func TestTreesForeign(t *testing.T) {
	m, root, ff, files, good := foreignTree(t)
	tr, err := NewTrees(Options{Objects: m, Files: files, Foreign: ff})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	es, err := tr.ReadDir(ctx, root, "data")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		switch e.Name {
		case "model.bin":
			if e.Foreign == nil || e.Lode || e.Size != int64(len(good)) || e.ID() != "sha256:good" || e.Foreign.Tool != "fake-lfs" || !e.Exec {
				t.Errorf("model.bin: %+v", e)
			}
		case "plain.txt":
			if e.Foreign != nil || e.Lode {
				t.Errorf("plain.txt: %+v", e)
			}
		case "new.bin":
			if e.Foreign != nil || !e.Lode {
				t.Errorf("new.bin: %+v", e)
			}
		}
	}
	if n := ff.opens.Load(); n != 0 {
		t.Errorf("listing opened %d foreign files", n)
	}
	open := func(name string) (*File, error) {
		st, err := tr.Lookup(ctx, root, "data/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return tr.Open(ctx, st)
	}
	f, err := open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.NewSectionReader(readerAt{ctx, f}, 0, f.Size()))
	f.Close()
	if err != nil || !bytes.Equal(b, good) {
		t.Errorf("model.bin: %d bytes, %v", len(b), err)
	}
	if _, err := open("bad.bin"); !errors.Is(err, cas.ErrCorrupt) || !strings.Contains(err.Error(), "/data/bad.bin") {
		t.Errorf("bad.bin: %v, want ErrCorrupt naming the path", err)
	}
	if _, err := open("gone.bin"); err == nil || !strings.Contains(err.Error(), "git lfs fetch") {
		t.Errorf("gone.bin: %v", err)
	}
}
