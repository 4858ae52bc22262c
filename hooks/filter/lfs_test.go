package filter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/hooks/lfs"
)

// A Git LFS pointer under filter=lode: clean leaves it, smudge reads Git
// LFS's store, checked, and fails (so git writes nothing) on a damaged or
// missing object.
func TestLFSPointers(t *testing.T) {
	f := newFilter(t)
	dir := t.TempDir()
	f.LFS = &lfs.Source{Dir: dir}
	data := bytes.Repeat([]byte("lfs content\n"), 30000)
	p := lfs.Pointer{OID: sha256.Sum256(data), Size: int64(len(data))}
	ptr := p.Encode()
	if got := clean(t, f, ptr); !bytes.Equal(got, ptr) {
		t.Fatalf("clean of an LFS pointer gave %q", got)
	}
	ctx := context.Background()
	var out bytes.Buffer
	err := f.Smudge(ctx, bytes.NewReader(ptr), &out)
	var lu *LFSUnavailableError
	if !errors.As(err, &lu) || !errors.Is(err, lfs.ErrMissing) || !strings.Contains(err.Error(), p.Hex()) || !bytes.Equal(lu.Text, ptr) || out.Len() != 0 {
		t.Fatalf("missing object: %v", err)
	}
	path := lfs.ObjectPath(dir, p)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, data, 0o644)
	out.Reset()
	if err := f.Smudge(ctx, bytes.NewReader(ptr), &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("smudge: %d bytes, %v", out.Len(), err)
	}
	data[100] ^= 1
	os.WriteFile(path, data, 0o644)
	out.Reset()
	if err := f.Smudge(ctx, bytes.NewReader(ptr), &out); !errors.Is(err, cas.ErrCorrupt) || out.Len() != 0 {
		t.Fatalf("damaged object: %v", err)
	}
	// Without a source, or skipping smudge, the pointer passes through.
	f.LFS = nil
	out.Reset()
	if err := f.Smudge(ctx, bytes.NewReader(ptr), &out); err != nil || !bytes.Equal(out.Bytes(), ptr) {
		t.Fatalf("no source: %q, %v", out.Bytes(), err)
	}
	// Something that only looks like one passes through too.
	f.LFS = &lfs.Source{Dir: dir}
	odd := append(bytes.Clone(ptr), "ext-x y\n"...)
	out.Reset()
	if err := f.Smudge(ctx, bytes.NewReader(odd), &out); err != nil || !bytes.Equal(out.Bytes(), odd) {
		t.Fatalf("odd pointer: %q, %v", out.Bytes(), err)
	}
}
