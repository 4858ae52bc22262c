package lfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lodevcs/lode/cas"
)

// ErrMissing is wrapped when an object is in neither the local store nor
// anywhere Fetch could get it from.
var ErrMissing = errors.New("object not in Git LFS's store")

// ObjectPath is where Git LFS keeps the object of p under its storage
// directory dir (<git common dir>/lfs by default).
func ObjectPath(dir string, p Pointer) string {
	h := p.Hex()
	return filepath.Join(dir, "objects", h[0:2], h[2:4], h)
}

// Has reports whether the local store holds a file for p of the right
// size (its content is not checked).
func Has(dir string, p Pointer) bool {
	fi, err := os.Stat(ObjectPath(dir, p))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == p.Size
}

// Open opens the object of p in the store at dir, checking its size (not
// its content: see Verify, or read it through a Checker). A missing file
// gives an error wrapping ErrMissing.
func Open(dir string, p Pointer) (*os.File, error) {
	path := ObjectPath(dir, p)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is not in %s", ErrMissing, p, filepath.Join(dir, "objects"))
	}
	if err != nil {
		return nil, fmt.Errorf("open Git LFS object %s: %w", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open Git LFS object %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != p.Size {
		f.Close()
		return nil, fmt.Errorf("%w: Git LFS object %s is %d bytes in %s, its pointer says %d", cas.ErrCorrupt, p, fi.Size(), path, p.Size)
	}
	return f, nil
}

// Checker reads content through, hashing it, so that Check can tell
// whether it was the content of the pointer.
type Checker struct {
	r io.Reader
	p Pointer
	h hash.Hash
	n int64
}

// NewChecker reads r, which should give the content of p.
func NewChecker(r io.Reader, p Pointer) *Checker {
	return &Checker{r: r, p: p, h: sha256.New()}
}

func (c *Checker) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	return n, err
}

// Check reports whether what was read so far is the content of the
// pointer, all of it: an error wrapping cas.ErrCorrupt if not.
func (c *Checker) Check() error {
	if c.n != c.p.Size {
		return fmt.Errorf("%w: Git LFS object %s: got %d bytes, its pointer says %d", cas.ErrCorrupt, c.p, c.n, c.p.Size)
	}
	if sum := c.h.Sum(nil); !bytes.Equal(sum, c.p.OID[:]) {
		return fmt.Errorf("%w: Git LFS object %s: its content hashes to sha256:%x", cas.ErrCorrupt, c.p, sum)
	}
	return nil
}

// Verify reads f (opened by Open) from its start to its end and reports
// whether it is the content of p; it leaves the offset at the end.
func Verify(ctx context.Context, f io.ReadSeeker, p Pointer) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read Git LFS object %s: %w", p, err)
	}
	c := NewChecker(f, p)
	if _, err := io.Copy(io.Discard, ctxReader{ctx, c}); err != nil {
		return fmt.Errorf("read Git LFS object %s: %w", p, err)
	}
	return c.Check()
}

// Source gives the content of Git LFS objects, checked: from the local
// store in Dir, and for objects it lacks through Fetch, if set.
type Source struct {
	// Dir is the Git LFS storage directory (<git common dir>/lfs, or
	// lfs.storage).
	Dir string
	// Fetch, if set, brings the object of p into Dir by other means ('git
	// lfs smudge', which downloads into Git LFS's store). It returns an
	// error wrapping ErrMissing when it cannot.
	Fetch func(ctx context.Context, p Pointer) error
}

// Open opens the object of p (see the function Open), fetching it first
// if the store lacks it and Fetch is set. Its content is not checked yet.
func (s *Source) Open(ctx context.Context, p Pointer) (*os.File, error) {
	f, err := Open(s.Dir, p)
	if errors.Is(err, ErrMissing) && s.Fetch != nil {
		if err := s.Fetch(ctx, p); err != nil {
			return nil, err
		}
		f, err = Open(s.Dir, p)
	}
	return f, err
}

// WriteTo writes the content of p to w. The object is checked against its
// SHA-256 before anything is written (and again as it is copied), so an
// object that is missing (an error wrapping ErrMissing) or damaged
// (cas.ErrCorrupt) leaves w untouched, unless the file changes under it
// while it is copied, which the second check reports.
func (s *Source) WriteTo(ctx context.Context, p Pointer, w io.Writer) error {
	f, err := s.Open(ctx, p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := Verify(ctx, f, p); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read Git LFS object %s: %w", p, err)
	}
	c := NewChecker(f, p)
	if _, err := io.Copy(w, ctxReader{ctx, c}); err != nil {
		return fmt.Errorf("copy Git LFS object %s: %w", p, err)
	}
	return c.Check()
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
