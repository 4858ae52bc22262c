package datadiff

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/lodevcs/lode/hooks/gitrepo"
)

// Side is one side of a raw change: a blob, a work-tree file, or nothing.
type Side struct {
	// Blob is the file's blob; zero when the side is absent or a
	// work-tree file.
	Blob plumbing.Hash
	// WorkTree, when not empty, is the work-tree file (an absolute path)
	// whose content is this side.
	WorkTree string
	// Lode says, for a work-tree file, that git's attributes hand it to
	// lode (filter=lode, or the size rule's filter and at least its
	// threshold), so that its content is a lode file's.
	Lode bool
}

// Present reports whether the side has a file.
func (s Side) Present() bool { return !s.Blob.IsZero() || s.WorkTree != "" }

// RawChange is a path whose content may differ between the two sides.
type RawChange struct {
	Path     string // slash-separated, from the top of the tree
	Old, New Side
}

// Selector says whether a path (a file, or a directory when dir) is
// wanted; a directory that is not wanted is not read.
type Selector func(path string, dir bool) bool

// PathSelector selects the given paths (slash-separated, from the top; ""
// or "." is everything) and what is under them. With no paths it selects
// everything.
func PathSelector(paths []string) Selector {
	if len(paths) == 0 {
		return nil
	}
	for _, p := range paths {
		if p == "" || p == "." {
			return nil
		}
	}
	return func(path string, dir bool) bool {
		for _, p := range paths {
			if path == p || strings.HasPrefix(path, p+"/") || (dir && strings.HasPrefix(p, path+"/")) {
				return true
			}
		}
		return false
	}
}

// TreeChanges calls fn, in path order, for every regular file whose blob
// differs between the trees of the commits old and new (or that only one
// of them has), as far as sel (nil: everything) selects it. Subtrees of
// the same hash are skipped without being read, so the cost is that of
// the changed directories. Symlinks and submodules are not files here; a
// mode change alone (executable bit) is not a change of data.
func TreeChanges(ctx context.Context, r *gitrepo.Repo, old, new plumbing.Hash, sel Selector, fn func(RawChange) error) error {
	ot, err := r.CommitTree(old)
	if err != nil {
		return fmt.Errorf("read commit %s: %w", old, err)
	}
	nt, err := r.CommitTree(new)
	if err != nil {
		return fmt.Errorf("read commit %s: %w", new, err)
	}
	var out []RawChange
	if err := diffTrees(ctx, r, ot, nt, "", sel, &out); err != nil {
		return err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	for _, c := range out {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func isFile(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
}

func readTree(r *gitrepo.Repo, h plumbing.Hash, prefix string) ([]gitrepo.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	es, err := r.ReadTree(h)
	if err != nil {
		if prefix == "" {
			return nil, fmt.Errorf("read tree %s: %w", h, err)
		}
		return nil, fmt.Errorf("read tree %s (%s): %w", h, strings.TrimSuffix(prefix, "/"), err)
	}
	return es, nil
}

func diffTrees(ctx context.Context, r *gitrepo.Repo, ot, nt plumbing.Hash, prefix string, sel Selector, out *[]RawChange) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ot == nt {
		return nil
	}
	oes, err := readTree(r, ot, prefix)
	if err != nil {
		return err
	}
	nes, err := readTree(r, nt, prefix)
	if err != nil {
		return err
	}
	type pair struct{ o, n *gitrepo.TreeEntry }
	byName := make(map[string]*pair, len(nes))
	names := make([]string, 0, len(nes))
	for i := range oes {
		byName[oes[i].Name] = &pair{o: &oes[i]}
		names = append(names, oes[i].Name)
	}
	for i := range nes {
		if p, ok := byName[nes[i].Name]; ok {
			p.n = &nes[i]
			continue
		}
		byName[nes[i].Name] = &pair{n: &nes[i]}
		names = append(names, nes[i].Name)
	}
	for _, name := range names {
		p := byName[name]
		path := prefix + name
		var oDir, nDir, oFile, nFile plumbing.Hash
		if p.o != nil {
			switch {
			case p.o.Mode == filemode.Dir:
				oDir = p.o.Hash
			case isFile(p.o.Mode):
				oFile = p.o.Hash
			}
		}
		if p.n != nil {
			switch {
			case p.n.Mode == filemode.Dir:
				nDir = p.n.Hash
			case isFile(p.n.Mode):
				nFile = p.n.Hash
			}
		}
		if (!oDir.IsZero() || !nDir.IsZero()) && oDir != nDir && (sel == nil || sel(path, true)) {
			if err := diffTrees(ctx, r, oDir, nDir, path+"/", sel, out); err != nil {
				return err
			}
		}
		if oFile != nFile && (sel == nil || sel(path, false)) {
			*out = append(*out, RawChange{Path: path, Old: Side{Blob: oFile}, New: Side{Blob: nFile}})
		}
	}
	return nil
}

// PathExists reports whether path (slash-separated, from the top) names a
// file or directory in the tree of commit.
func PathExists(r *gitrepo.Repo, commit plumbing.Hash, path string) (bool, error) {
	h, err := r.CommitTree(commit)
	if err != nil {
		return false, fmt.Errorf("read commit %s: %w", commit, err)
	}
	if path == "" || path == "." {
		return true, nil
	}
	parts := strings.Split(path, "/")
	for i, name := range parts {
		es, err := r.ReadTree(h)
		if err != nil {
			return false, fmt.Errorf("read tree of %s: %w", path, err)
		}
		found := false
		for _, e := range es {
			if e.Name != name {
				continue
			}
			if i == len(parts)-1 {
				return true, nil
			}
			if e.Mode != filemode.Dir {
				return false, nil
			}
			h, found = e.Hash, true
			break
		}
		if !found {
			return false, nil
		}
	}
	return false, nil
}
