package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/lodevcs/lode/remote"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// transferProgress returns a Progress callback drawing a bar on stderr when
// it is a terminal, and nil otherwise (the summary line is printed anyway).
func (a *app) transferProgress(desc string) (func(transfer.Progress), func()) {
	f, ok := a.io.Err.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || a.getenv("LODE_NO_PROGRESS") != "" {
		return nil, func() {}
	}
	var mu sync.Mutex // guards bar
	var bar *progressbar.ProgressBar
	update := func(p transfer.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			bar = progressbar.NewOptions64(p.Total,
				progressbar.OptionSetWriter(f),
				progressbar.OptionSetDescription(desc),
				progressbar.OptionShowBytes(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set64(p.Done)
	}
	finish := func() {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			_ = bar.Finish()
		}
	}
	return update, finish
}

// printStats prints a transfer's one-line summary on stderr.
func (a *app) printStats(verb string, st transfer.Stats, where string) {
	if st.Files == 0 {
		fmt.Fprintf(a.io.Err, "lode: nothing to %s (%d file(s) already there)\n", verb, st.FilesPresent)
		return
	}
	packs := ""
	if st.Packs > 0 {
		packs = fmt.Sprintf(" in %d pack(s)", st.Packs)
	}
	fmt.Fprintf(a.io.Err, "lode: %sed %d file(s) %s %s: %d chunk(s), %s%s, %d request(s)\n", verb, st.Files, map[string]string{"push": "to", "fetch": "from"}[verb], where, st.Chunks, humanBytes(st.Bytes), packs, st.Requests)
}

// pathFilter selects paths by --include and --exclude globs. A glob
// without a slash matches the file name at any depth; with a slash it
// matches the whole path, and a trailing "/**" matches everything below.
type pathFilter struct{ include, exclude []string }

func (f pathFilter) match(p string) bool {
	if len(f.include) > 0 && !anyMatch(f.include, p) {
		return false
	}
	return !anyMatch(f.exclude, p)
}

func anyMatch(globs []string, p string) bool {
	for _, g := range globs {
		for _, g := range strings.Split(g, ",") {
			if globMatch(strings.TrimSpace(g), p) {
				return true
			}
		}
	}
	return false
}

func globMatch(g, p string) bool {
	if g == "" {
		return false
	}
	if dir, ok := strings.CutSuffix(g, "/**"); ok {
		return p == dir || strings.HasPrefix(p, dir+"/")
	}
	if !strings.Contains(g, "/") {
		ok, _ := path.Match(g, path.Base(p))
		return ok
	}
	ok, _ := path.Match(strings.TrimPrefix(g, "/"), p)
	return ok
}

// pointersAt lists the pointers in the trees of revs that f selects.
func (a *app) pointersAt(ctx context.Context, r *repo, revs []string, f pathFilter) ([]pointer.Pointer, []string, error) {
	var ptrs []pointer.Pointer
	var paths []string
	for _, rev := range revs {
		gr, commit, err := a.openRev(r, rev)
		if err != nil {
			return nil, nil, err
		}
		err = gr.Pointers(ctx, commit, func(e gitrepo.Entry) error {
			if e.Err == nil && f.match(e.Path) {
				ptrs = append(ptrs, e.Pointer)
				paths = append(paths, e.Path)
			}
			return nil
		})
		gr.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	return ptrs, paths, nil
}

// reachablePointers lists the distinct pointers in the history of include
// that is not in the history of exclude.
func (a *app) reachablePointers(ctx context.Context, r *repo, include, exclude []plumbing.Hash) ([]pointer.Pointer, error) {
	dir := r.workTree
	if dir == "" {
		dir = r.gitDir
	}
	gr, err := gitrepo.Open(dir)
	if err != nil {
		return nil, err
	}
	defer gr.Close()
	var ptrs []pointer.Pointer
	err = gr.ReachablePointers(ctx, include, exclude, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil {
			fmt.Fprintf(a.io.Err, "git-lode: warning: %s in commit %s is a damaged lode pointer (%v); it is pushed as it is\n", e.Path, commit.String()[:12], e.Err)
			return nil
		}
		ptrs = append(ptrs, e.Pointer)
		return nil
	})
	return ptrs, err
}

// explainTransferError adds what to do to the errors users meet.
func explainTransferError(err error) error {
	switch {
	case errors.Is(err, transfer.ErrLocalMissing):
		return fmt.Errorf("%w\nthe local store lacks data that the commits reference; run 'git lode fetch' from a remote that has it, or 'git lode verify'", err)
	case errors.Is(err, errWorkTreeRemote):
		return fmt.Errorf("%w\nthe git remote is a repository with a work tree: clones read the data from its store, and lode does not write into it, as git refuses pushes to its checked-out branch; these commits need data that store lacks. Push to a bare repository (git init --bare), set [remote] url in .lode.toml, or have its owner fetch from your clone instead (git remote add NAME PATH; git fetch NAME; git lode fetch --remote NAME NAME/BRANCH)", err)
	case errors.Is(err, remote.ErrReadOnly):
		return fmt.Errorf("%w\nthis remote can only be read (http(s) remotes are read-only); push to an s3://, gs:// or folder remote and serve that folder over HTTP for readers", err)
	case errors.Is(err, errNoRemote):
		return err
	}
	return err
}
