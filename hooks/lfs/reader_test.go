package lfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas"
)

// putObject writes data into the store at dir as Git LFS would, with
// times old enough that its check is not racy, and returns its pointer.
func putObject(t *testing.T, dir string, data []byte) Pointer {
	t.Helper()
	p := Pointer{OID: sha256.Sum256(data), Size: int64(len(data))}
	path := ObjectPath(dir, p)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeOld(t, path, data)
	return p
}

// writeOld writes data to path in place (same inode) and dates it an
// hour back (the change time is now, which a check 2 s later is past).
func writeOld(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func readAll(ctx context.Context, ob *Object) ([]byte, error) {
	out := make([]byte, 0, ob.Size())
	buf := make([]byte, 4096)
	for off := int64(0); ; {
		n, err := ob.ReadAt(ctx, buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func (o *Objects) hashCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hashes
}

// Objects serves a good object (hashed once, however often it is opened
// and read), refuses a truncated one, one with other content and a
// missing one, and checks again one that changed since its check: the
// same content again is served, other content is refused.
func TestObjects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640 KB, many reads
	p := putObject(t, dir, data)
	o := NewObjects(dir, ObjectsOptions{})
	defer o.Close()
	// The change time of a file just written is within the racy window:
	// the first Open checks it, and the next Opens too until it is old.
	time.Sleep(racyWindow + 100*time.Millisecond)

	ob, err := o.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		got, err := readAll(ctx, ob)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
		if _, err := o.Open(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if n := o.hashCount(); n != 1 {
		t.Errorf("the object was hashed %d times, want once", n)
	}

	path := ObjectPath(dir, p)
	// Rewritten in place with the same content (touched): checked again, served.
	writeOld(t, path, data)
	if got, err := readAll(ctx, ob); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a rewrite with the same content: %d bytes, %v", len(got), err)
	}
	if n := o.hashCount(); n != 2 {
		t.Errorf("after a rewrite: hashed %d times, want 2", n)
	}
	// Same size, other content: refused, by reads of an Object opened
	// before and by Open.
	bad := bytes.ToUpper(data)
	writeOld(t, path, bad)
	if _, err := ob.ReadAt(ctx, make([]byte, 10), 0); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("read of changed content: %v, want ErrCorrupt", err)
	}
	if _, err := o.Open(ctx, p); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("open of changed content: %v, want ErrCorrupt", err)
	}
	// Replaced by another file (a new inode) with the right content.
	os.Remove(path)
	writeOld(t, path, data)
	if got, err := readAll(ctx, ob); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a replacement: %d bytes, %v", len(got), err)
	}
	// Truncated.
	writeOld(t, path, data[:len(data)-1])
	if _, err := ob.ReadAt(ctx, make([]byte, 10), 0); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("read of a truncated object: %v, want ErrCorrupt", err)
	}
	// Missing.
	os.Remove(path)
	if _, err := o.Open(ctx, p); !errors.Is(err, ErrMissing) {
		t.Fatalf("open of a missing object: %v, want ErrMissing", err)
	}
	if _, err := ob.ReadAt(ctx, make([]byte, 10), 0); !errors.Is(err, ErrMissing) {
		t.Fatalf("read of a missing object: %v, want ErrMissing", err)
	}

	// Damaged from the start: nothing is returned.
	q := Pointer{OID: sha256.Sum256([]byte("other")), Size: 5}
	os.MkdirAll(filepath.Dir(ObjectPath(dir, q)), 0o755)
	writeOld(t, ObjectPath(dir, q), []byte("OTHER"))
	if _, err := o.Open(ctx, q); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("open of a damaged object: %v, want ErrCorrupt", err)
	}

	o.Close()
	if _, err := o.Open(ctx, q); !errors.Is(err, ErrClosed) {
		t.Fatalf("open after Close: %v", err)
	}
}

// A check just after the object was written is racy: the next Open checks
// it again; reads of an Object already open do not.
func TestObjectsRacy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := []byte("fresh content")
	p := Pointer{OID: sha256.Sum256(data), Size: int64(len(data))}
	path := ObjectPath(dir, p)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, data, 0o644)
	o := NewObjects(dir, ObjectsOptions{})
	defer o.Close()
	ob, err := o.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(ctx, ob); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := o.Open(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n := o.hashCount(); n != 2 {
		t.Errorf("hashed %d times, want 2 (the first check was racy)", n)
	}
}

// At most MaxOpen files stay open, however many objects are read.
func TestObjectsBoundsOpenFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := NewObjects(dir, ObjectsOptions{MaxOpen: 3})
	defer o.Close()
	var obs []*Object
	for i := range 10 {
		data := fmt.Appendf(nil, "object %d", i)
		ob, err := o.Open(ctx, putObject(t, dir, data))
		if err != nil {
			t.Fatal(err)
		}
		obs = append(obs, ob)
	}
	for i, ob := range obs {
		if got, err := readAll(ctx, ob); err != nil || string(got) != fmt.Sprintf("object %d", i) {
			t.Fatalf("object %d: %q, %v", i, got, err)
		}
		o.mu.Lock()
		n := o.lru.Len()
		o.mu.Unlock()
		if n > 3 {
			t.Fatalf("%d files open, want at most 3", n)
		}
	}
}

// An Open whose context ends while a large object is hashed returns at
// once; the check goes on and a later Open finds it done.
func TestObjectsCheckOutlivesCaller(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte{7}, 64<<20)
	p := putObject(t, dir, data)
	o := NewObjects(dir, ObjectsOptions{})
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Open(ctx, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("open with a cancelled context: %v", err)
	}
	ob, err := o.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if ob.Size() != int64(len(data)) {
		t.Fatalf("size %d", ob.Size())
	}
}
