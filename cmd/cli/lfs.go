package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lodevcs/lode/hooks/lfs"
)

// lfsDir is where Git LFS keeps its objects in r: lfs.storage (relative to
// the common git dir), else <common dir>/lfs.
func (a *app) lfsDir(ctx context.Context, r *repo) string {
	out, err := a.git(ctx, r.dir(), nil, "config", "--get", "lfs.storage")
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		if strings.HasPrefix(v, "~/") {
			if home := a.getenv("HOME"); home != "" {
				v = filepath.Join(home, v[2:])
			}
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(r.commonDir, v)
		}
		return v
	}
	return filepath.Join(r.commonDir, "lfs")
}

// gitLFSInstalled reports whether git-lfs is on PATH.
func gitLFSInstalled() bool {
	_, err := exec.LookPath("git-lfs")
	return err == nil
}

// installGitLFS is what to tell people who need git-lfs.
const installGitLFS = "install git-lfs (https://git-lfs.com; Debian and Ubuntu: apt install git-lfs), which can download it"

// lfsSource is the Git LFS object source of r: its local store, and
// objects it lacks through 'git lfs smudge' (which downloads them into
// that store) when git-lfs is installed. Nothing is run or read until the
// first Git LFS pointer.
func (a *app) lfsSource(r *repo) *lazyLFS { return &lazyLFS{a: a, r: r} }

type lazyLFS struct {
	a    *app
	r    *repo
	once sync.Once
	src  *lfs.Source // set by once
}

func (l *lazyLFS) source(ctx context.Context) *lfs.Source {
	l.once.Do(func() {
		l.src = &lfs.Source{Dir: l.a.lfsDir(ctx, l.r), Fetch: l.fetch}
	})
	return l.src
}

// WriteTo writes the content of p to w; see lfs.Source.
func (l *lazyLFS) WriteTo(ctx context.Context, p lfs.Pointer, w io.Writer) error {
	return l.source(ctx).WriteTo(ctx, p, w)
}

// Dir is the Git LFS storage directory.
func (l *lazyLFS) Dir(ctx context.Context) string { return l.source(ctx).Dir }

// fetch runs 'git lfs smudge' on p, which downloads the object into Git
// LFS's store (what it writes out is not used: Source reads the store).
func (l *lazyLFS) fetch(ctx context.Context, p lfs.Pointer) error {
	where := filepath.Join(l.src.Dir, "objects")
	if !gitLFSInstalled() {
		return fmt.Errorf("%w: %s is not in %s; %s, or run 'git lode migrate import --from-lfs' where the objects are", lfs.ErrMissing, p, where, installGitLFS)
	}
	cmd := exec.CommandContext(ctx, "git", "lfs", "smudge")
	cmd.Dir = l.r.dir()
	cmd.Stdin = bytes.NewReader(p.Encode())
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%w: %s is not in %s and 'git lfs smudge' could not get it: %s", lfs.ErrMissing, p, where, msg)
		}
		return fmt.Errorf("run git lfs smudge for %s: %s", p, msg)
	}
	if !lfs.Has(l.src.Dir, p) {
		return fmt.Errorf("%w: 'git lfs smudge' ran but %s is still not in %s (is lfs.storage set differently for git-lfs?)", lfs.ErrMissing, p, where)
	}
	return nil
}
