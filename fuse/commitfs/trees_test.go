package commitfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas/pointer"
)

// Trees shows what the mount shows: lode files at their pointer's size
// with their bytes, plain files as their blobs, symlinks with targets,
// names git refuses hidden, damaged pointers refused, and paths that no
// tree can hold rejected.
func TestTrees(t *testing.T) {
	m := newMemObjects()
	files := newFakeFiles()
	big := files.add("big", 3<<20+17)
	small := []byte("id,label\n1,a\n")
	large := bytes.Repeat([]byte("plain git file\n"), 100)
	damaged := []byte(pointer.Prefix + "9\noid blake3:zz\n")
	sub := m.tree(
		Entry{Name: "big.csv", Mode: ModeRegular, Hash: m.blob(big.ptr.Encode())},
		Entry{Name: "run.sh", Mode: ModeExecutable, Hash: m.blob(large)},
		Entry{Name: "link", Mode: ModeSymlink, Hash: m.blob([]byte("big.csv"))},
	)
	root := m.tree(
		Entry{Name: ".git", Mode: ModeDir, Hash: sub},
		Entry{Name: "GIT~1", Mode: ModeRegular, Hash: m.blob(small)},
		Entry{Name: "data", Mode: ModeDir, Hash: sub},
		Entry{Name: "bad.bin", Mode: ModeRegular, Hash: m.blob(damaged)},
		Entry{Name: "small.csv", Mode: ModeRegular, Hash: m.blob(small)},
		Entry{Name: "mod", Mode: ModeSubmodule, Hash: Hash{1}},
	)
	var logs logBuf
	tr, err := NewTrees(Options{Objects: m, Files: files, Logf: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	es, err := tr.ReadDir(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Name+":"+e.Kind.String())
	}
	if want := "data:dir bad.bin:file small.csv:file mod:dir"; strings.Join(got, " ") != want {
		t.Errorf("root lists %q, want %q", strings.Join(got, " "), want)
	}
	if !strings.Contains(logs.String(), `"/.git" hidden`) || !strings.Contains(logs.String(), `"/GIT~1" hidden`) {
		t.Errorf("hidden names not logged:\n%s", logs.String())
	}

	read := func(p string) ([]byte, Stat, error) {
		st, err := tr.Lookup(ctx, root, p)
		if err != nil {
			return nil, st, err
		}
		f, err := tr.Open(ctx, st)
		if err != nil {
			return nil, st, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.NewSectionReader(readerAt{ctx, f}, 0, f.Size()))
		return b, st, err
	}
	b, st, err := read("data/big.csv")
	if err != nil || !st.Lode || st.Size != big.ptr.Size || st.ID() != big.ptr.OID.String() || !bytes.Equal(b, big.content(0, big.ptr.Size)) {
		t.Errorf("data/big.csv: %d bytes, %+v, %v", len(b), st, err)
	}
	if b, st, err = read("data/run.sh"); err != nil || st.Lode || !st.Exec || !bytes.Equal(b, large) || st.ID() != m.blob(large).String() {
		t.Errorf("data/run.sh: %q, %+v, %v", b, st, err)
	}
	if b, _, err = read("small.csv"); err != nil || !bytes.Equal(b, small) {
		t.Errorf("small.csv: %q, %v", b, err)
	}
	if st, err = tr.Lookup(ctx, root, "data/link"); err != nil || st.Kind != KindSymlink || st.Target != "big.csv" {
		t.Errorf("data/link: %+v, %v", st, err)
	}
	if _, _, err = read("bad.bin"); !errors.Is(err, ErrDamaged) {
		t.Errorf("bad.bin: %v, want ErrDamaged", err)
	}
	if _, _, err = read("data"); !errors.Is(err, ErrIsDir) {
		t.Errorf("open data: %v, want ErrIsDir", err)
	}
	if es, err := tr.ReadDir(ctx, root, "mod"); err != nil || len(es) != 0 {
		t.Errorf("submodule lists %v, %v", es, err)
	}
	for _, p := range []string{".git/big.csv", "GIT~1", "nope", "data/nope", "small.csv/x", "mod/x"} {
		if _, err := tr.Lookup(ctx, root, p); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrNotDir) {
			t.Errorf("lookup %q: %v, want not found", p, err)
		}
	}
	for _, p := range []string{"/data", "data/", "data//big.csv", "./data", "data/../small.csv", "..", "a\x00b"} {
		if _, err := tr.Lookup(ctx, root, p); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("lookup %q: %v, want ErrInvalidPath", p, err)
		}
	}

	// A failing chunk fails the read; nothing is returned.
	big.failAt = 2 << 20
	if _, _, err := read("data/big.csv"); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Errorf("read with a failing chunk: %v", err)
	}
}

type readerAt struct {
	ctx context.Context
	f   *File
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(r.ctx, p, off) }
