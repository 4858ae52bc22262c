package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/fuse/commitfs"
	"github.com/lodevcs/lode/hooks/lfs"
)

// lfsTool is the commitfs.ForeignPointer tool of Git LFS pointers.
const lfsTool = "git-lfs"

// lfsFiles is the commitfs.Foreign of the mount and the server: the Git
// LFS pointers of old history show as their files, read from Git LFS's
// local store (lfs.Objects: each object checked whole against its SHA-256
// once, then read through an open file). It never downloads: an object
// that is not local is an error that says to run 'git lfs fetch'. Nothing
// is run or read until the first Git LFS file is opened.
type lfsFiles struct {
	a *app
	r *repo

	once sync.Once
	objs *lfs.Objects // set by once
}

var _ commitfs.Foreign = (*lfsFiles)(nil)

func (a *app) lfsFiles(r *repo) *lfsFiles { return &lfsFiles{a: a, r: r} }

func (l *lfsFiles) objects(ctx context.Context) *lfs.Objects {
	l.once.Do(func() { l.objs = lfs.NewObjects(l.a.lfsDir(ctx, l.r), lfs.ObjectsOptions{}) })
	return l.objs
}

// close closes the object files kept open.
func (l *lfsFiles) close() {
	l.once.Do(func() {}) // none opened from now on
	if l.objs != nil {
		l.objs.Close()
	}
}

// Parse recognises valid Git LFS pointers, as smudge does.
func (l *lfsFiles) Parse(blob []byte) (commitfs.ForeignPointer, bool) {
	if len(blob) > pointer.MaxLen || !lfs.MightBe(blob) {
		return commitfs.ForeignPointer{}, false
	}
	p, err := lfs.Parse(blob)
	if err != nil {
		return commitfs.ForeignPointer{}, false
	}
	return commitfs.ForeignPointer{Tool: lfsTool, OID: p.String(), Size: p.Size}, true
}

// lfsPointer is the Git LFS pointer fp stands for.
func lfsPointer(fp commitfs.ForeignPointer) (lfs.Pointer, error) {
	var p lfs.Pointer
	h, ok := strings.CutPrefix(fp.OID, "sha256:")
	if fp.Tool != lfsTool || !ok || hex.DecodedLen(len(h)) != len(p.OID) {
		return p, fmt.Errorf("not a Git LFS pointer: %s %s", fp.Tool, fp.OID)
	}
	if _, err := hex.Decode(p.OID[:], []byte(h)); err != nil {
		return p, fmt.Errorf("not a Git LFS pointer: %s: %w", fp.OID, err)
	}
	p.Size = fp.Size
	return p, nil
}

// Open checks the object of fp and opens it for reading. A missing object
// says how to get it.
func (l *lfsFiles) Open(ctx context.Context, fp commitfs.ForeignPointer) (commitfs.LodeFile, error) {
	p, err := lfsPointer(fp)
	if err != nil {
		return nil, err
	}
	objs := l.objects(ctx)
	ob, err := objs.Open(ctx, p)
	if errors.Is(err, lfs.ErrMissing) {
		where := filepath.Join(objs.Dir(), "objects")
		if !gitLFSInstalled() {
			return nil, fmt.Errorf("%w: Git LFS object %s is not in %s; %s, then run 'git lfs fetch' for this revision in %s", lfs.ErrMissing, p, where, installGitLFS, l.r.dir())
		}
		return nil, fmt.Errorf("%w: Git LFS object %s is not in %s; run 'git lfs fetch' for this revision in %s (git lfs fetch REMOTE REV)", lfs.ErrMissing, p, where, l.r.dir())
	}
	if err != nil {
		return nil, err
	}
	return lfsFile{ob}, nil
}

// lfsFile is a checked Git LFS object as a commitfs.LodeFile; every
// handle shares it (it holds no file of its own).
type lfsFile struct{ ob *lfs.Object }

func (f lfsFile) Size() int64                     { return f.ob.Size() }
func (f lfsFile) NewReader() commitfs.RangeReader { return f }

// ReadAt reads as commitfs.RangeReader says: fewer bytes only at the end,
// with a nil error.
func (f lfsFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	n, err := f.ob.ReadAt(ctx, p, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
