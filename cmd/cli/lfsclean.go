package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/lodevcs/lode/hooks/lfs"
)

// lfsPrior keeps Git LFS pointers that lode's clean would otherwise
// replace: in a repository that came from Git LFS (or shares a path with
// teammates who use it), a file whose index entry is a Git LFS pointer
// and whose content is that pointer's object cleans to the same pointer,
// so that `git status` (which cleans a racily clean or touched file)
// does not show an unchanged file as modified, and `git add -A` does not
// convert files nobody changed. Files git holds otherwise clean as usual.
// Nothing is read in a repository without a Git LFS store.
type lfsPrior struct {
	a    *app
	r    *repo
	once sync.Once
	gr   *gitrepo.Repo
	idx  map[string]plumbing.Hash // nil when not in use
}

func (a *app) newLFSPrior(r *repo) *lfsPrior { return &lfsPrior{a: a, r: r} }

func (l *lfsPrior) init(ctx context.Context) {
	if l.r.workTree == "" {
		return
	}
	if fi, err := os.Stat(filepath.Join(l.a.lfsDir(ctx, l.r), "objects")); err != nil || !fi.IsDir() {
		return
	}
	gr, err := gitrepo.Open(l.r.workTree)
	if err != nil {
		return
	}
	idx, err := gr.IndexBlobs()
	if err != nil {
		gr.Close()
		return // cleaned as usual: at worst the file shows as modified
	}
	l.gr, l.idx = gr, idx
}

// pointer returns the Git LFS pointer the index holds for path, and its
// bytes, if it holds one.
func (l *lfsPrior) pointer(ctx context.Context, path string) (lfs.Pointer, []byte, bool) {
	l.once.Do(func() { l.init(ctx) })
	h, ok := l.idx[path]
	if !ok {
		return lfs.Pointer{}, nil, false
	}
	_, b, err := l.gr.BlobHead(h, lfs.MaxLen)
	if err != nil || b == nil {
		return lfs.Pointer{}, nil, false
	}
	p, err := lfs.Parse(b)
	if err != nil {
		return lfs.Pointer{}, nil, false
	}
	return p, b, true
}

// clean runs clean on r into w, but writes the index's Git LFS pointer
// for path instead when the content is exactly that pointer's object.
func (l *lfsPrior) clean(ctx context.Context, path string, r io.Reader, w io.Writer, clean func(io.Reader, io.Writer) error) error {
	p, blob, ok := l.pointer(ctx, path)
	if !ok {
		return clean(r, w)
	}
	c := lfs.NewChecker(r, p)
	var out bytes.Buffer
	if err := clean(c, &out); err != nil {
		return err
	}
	// The whole content goes through the checker (clean reads to the
	// end; were it not, Check would fail and the lode pointer stands).
	if _, err := io.Copy(io.Discard, c); err != nil {
		return err
	}
	if c.Check() == nil {
		_, err := w.Write(blob)
		return err
	}
	_, err := w.Write(out.Bytes())
	return err
}

func (l *lfsPrior) close() {
	if l.gr != nil {
		l.gr.Close()
	}
}
