package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/lodevcs/lode/cas/pointer"
)

// Entry is one blob in a tree that is, or claims to be, a lode pointer.
type Entry struct {
	Path    string            // slash-separated path in the tree
	Mode    filemode.FileMode // filemode.Regular or filemode.Executable
	Blob    plumbing.Hash     // the pointer blob
	Pointer pointer.Pointer   // valid when Err == nil
	// Err is nil for a valid pointer. For a blob that starts with
	// pointer.Prefix but does not parse it wraps pointer.ErrMalformed or
	// pointer.ErrUnsupportedVersion.
	Err error
}

// Pointers calls fn for every blob in the tree of commit that is, or claims
// to be, a lode pointer, in path order (bytewise order of Entry.Path), once
// per path. Blobs larger than pointer.MaxLen are skipped by their size
// without being read; symlinks and submodules are skipped. fn is called on
// the calling goroutine; an error from fn stops the walk and is returned as
// it is.
func (r *Repo) Pointers(ctx context.Context, commit plumbing.Hash, fn func(Entry) error) error {
	c, err := r.commit(commit)
	if err != nil {
		return fmt.Errorf("list pointers at %s: %w", commit, err)
	}
	w := &walker{r: r, ctx: ctx, fn: fn}
	if err := w.walk(c.TreeHash, ""); err != nil {
		if w.fnErr != nil {
			return w.fnErr
		}
		return fmt.Errorf("list pointers at %s: %w", commit, err)
	}
	return nil
}

// ReachablePointers calls fn once per distinct pointer blob (as Pointers
// finds them) in the trees of the commits reachable from include and not
// from exclude, like "git rev-list --objects INCLUDE --not EXCLUDE":
//
//   - A tree or blob that is also in the tree of an excluded commit that is
//     a parent of an included one is not reported: whoever has the excluded
//     commits has it. With no exclude, every pointer blob of the history is
//     reported.
//   - Each tree is walked once however many commits share it, so history
//     with few changes per commit is cheap.
//   - Tags in include and exclude are peeled to commits. The zero hash is
//     ignored in both (a deleted or new branch in pre-push input), as are
//     exclude hashes that are not in the repository (a remote tip this
//     clone has not fetched).
//
// fn receives the included commit in whose tree the blob was first met, and
// the entry with the first path it was met at. The trees of the include
// commits themselves are walked first, in the order given (so every
// pointer blob of the tree of include[0] is reported with include[0]), then
// the rest of the range, newer commits first by committer date. fn is
// called on the calling goroutine; an error from fn stops the walk and is
// returned as it is.
func (r *Repo) ReachablePointers(ctx context.Context, include, exclude []plumbing.Hash, fn func(commit plumbing.Hash, e Entry) error) error {
	return r.reachable(r.newWalker(ctx), include, exclude, fn)
}

// ReachableAndTreePointers is ReachablePointers(include, exclude) and
// then TreePointers(include, except) in one walk: a blob the first part
// read is not read again, nor reported twice. A push needs both (the
// history the git remote lacks, and the whole trees it sends), and on a
// first push of many files reading each pointer blob once halves its
// cost.
func (r *Repo) ReachableAndTreePointers(ctx context.Context, include, exclude, except []plumbing.Hash, fn func(commit plumbing.Hash, e Entry) error) error {
	w := r.newWalker(ctx)
	if err := r.reachable(w, include, exclude, fn); err != nil {
		return err
	}
	w.phase2 = true
	return r.trees(w, include, except, fn)
}

// tipsFirst moves the commits of include (peeled) to the front of
// commits, in include's order, keeping the order of the others.
func tipsFirst(r *Repo, commits []*node, include []plumbing.Hash) {
	rank := make(map[plumbing.Hash]int, len(include))
	for i, h := range include {
		if c, err := r.tipCommit(h); err == nil && !c.IsZero() {
			if _, dup := rank[c]; !dup {
				rank[c] = i
			}
		}
	}
	slices.SortStableFunc(commits, func(a, b *node) int {
		ra, oka := rank[a.hash]
		rb, okb := rank[b.hash]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
}

func (r *Repo) newWalker(ctx context.Context) *walker {
	return &walker{r: r, ctx: ctx, trees: make(map[plumbing.Hash]uint8), blobs: make(map[plumbing.Hash]uint8)}
}

func (r *Repo) reachable(w *walker, include, exclude []plumbing.Hash, fn func(commit plumbing.Hash, e Entry) error) error {
	commits, boundary, err := r.commitRange(w.ctx, include, exclude)
	if err != nil {
		return fmt.Errorf("list reachable pointers: %w", err)
	}
	tipsFirst(r, commits, include)
	for _, c := range boundary {
		if err := w.mark(c.tree); err != nil {
			return fmt.Errorf("list reachable pointers: trees of excluded commit %s: %w", c.hash, err)
		}
	}
	for _, c := range commits {
		w.fn = func(e Entry) error { return fn(c.hash, e) }
		if err := w.walk(c.tree, ""); err != nil {
			if w.fnErr != nil {
				return w.fnErr
			}
			return fmt.Errorf("list reachable pointers: commit %s: %w", c.hash, err)
		}
	}
	return nil
}

// TreePointers calls fn once per distinct pointer blob in the trees of
// commits, as Pointers finds them, except those in trees that the trees of
// the except commits also hold: like ReachablePointers without the
// history, for callers that know what was handled at the except commits.
// Unknown except commits are ignored. fn gets the commit whose tree the
// blob was met in first.
func (r *Repo) TreePointers(ctx context.Context, commits, except []plumbing.Hash, fn func(commit plumbing.Hash, e Entry) error) error {
	w := r.newWalker(ctx)
	w.phase2 = true
	return r.trees(w, commits, except, fn)
}

func (r *Repo) trees(w *walker, commits, except []plumbing.Hash, fn func(commit plumbing.Hash, e Entry) error) error {
	for _, h := range except {
		c, err := r.commit(h)
		if err != nil {
			continue
		}
		if err := w.mark(c.TreeHash); err != nil {
			return fmt.Errorf("list pointers: trees of %s: %w", h, err)
		}
	}
	for _, h := range commits {
		c, err := r.commit(h)
		if err != nil {
			return fmt.Errorf("list pointers at %s: %w", h, err)
		}
		w.fn = func(e Entry) error { return fn(h, e) }
		if err := w.walk(c.TreeHash, ""); err != nil {
			if w.fnErr != nil {
				return w.fnErr
			}
			return fmt.Errorf("list pointers at %s: %w", h, err)
		}
	}
	return nil
}

// ReadFile returns the whole content of the file at path (slash-separated,
// relative to the root) in the tree of commit. It is meant for small files
// such as .lode.toml. A path that is not in the tree gives an error wrapping
// fs.ErrNotExist; a directory, symlink or submodule at path gives another
// error.
func (r *Repo) ReadFile(commit plumbing.Hash, path string) ([]byte, error) {
	c, err := r.commit(commit)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, commit, err)
	}
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return nil, fmt.Errorf("read %q at %s: not a clean relative path", path, commit)
		}
	}
	h := c.TreeHash
	for i, name := range parts {
		t, err := r.tree(h)
		if err != nil {
			return nil, fmt.Errorf("read %s at %s: %w", path, commit, err)
		}
		e, found := findEntry(t, name)
		switch last := i == len(parts)-1; {
		case !found:
			return nil, fmt.Errorf("read %s at %s: %w", path, commit, fs.ErrNotExist)
		case !last && e.Mode == filemode.Dir:
			h = e.Hash
		case !last:
			return nil, fmt.Errorf("read %s at %s: %s is not a directory: %w", path, commit, strings.Join(parts[:i+1], "/"), fs.ErrNotExist)
		case e.Mode == filemode.Regular || e.Mode == filemode.Executable || e.Mode == filemode.Deprecated:
			b, err := r.readBlob(e.Hash)
			if err != nil {
				return nil, fmt.Errorf("read %s at %s: %w", path, commit, err)
			}
			return b, nil
		default:
			return nil, fmt.Errorf("read %s at %s: not a regular file (mode %s)", path, commit, e.Mode)
		}
	}
	panic("unreachable: the last path element returns")
}

// findEntry returns the entry called name in t.
func findEntry(t *object.Tree, name string) (object.TreeEntry, bool) {
	for _, e := range t.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// walker walks trees for Pointers and the functions that report each
// blob once.
type walker struct {
	r   *Repo
	ctx context.Context
	fn  func(Entry) error
	// fnErr is the error fn returned, which ends the walk and is returned
	// to the caller unwrapped.
	fnErr error
	// trees and blobs, when not nil, make the walk visit each tree and
	// report each blob once, with the states below. A walk has two phases
	// (ReachableAndTreePointers): the second visits trees again (the
	// first may have skipped subtrees it marked), but no blob the first
	// read.
	trees, blobs map[plumbing.Hash]uint8
	phase2       bool
}

// States of trees and blobs in a walker.
const (
	marked1 uint8 = 1 + iota // phase 1: under an excluded commit, not read
	read1                    // phase 1: read (a blob: classified, reported if a pointer)
	done2                    // phase 2: read, or under an except commit
)

// errStop unwinds the walk after fn failed; the error is in fnErr.
var errStop = errors.New("stopped by callback")

// visitTree reports whether the walk should read tree h now, and
// records that it does. A tree read in phase 1 is read again in phase 2:
// phase 1 may have skipped subtrees of it that it marked.
func (w *walker) visitTree(h plumbing.Hash) bool {
	if w.trees == nil {
		return true
	}
	s := w.trees[h]
	if s == done2 || !w.phase2 && s != 0 {
		return false
	}
	w.trees[h] = w.state()
	return true
}

// visitBlob reports whether the walk should classify blob h now, and
// records that it does: each blob is read at most once in both phases.
func (w *walker) visitBlob(h plumbing.Hash) bool {
	if w.blobs == nil {
		return true
	}
	s := w.blobs[h]
	if s == read1 || s == done2 || !w.phase2 && s != 0 {
		return false
	}
	w.blobs[h] = w.state()
	return true
}

// state is what visiting an object records in the current phase.
func (w *walker) state() uint8 {
	if w.phase2 {
		return done2
	}
	return read1
}

func (w *walker) walk(tree plumbing.Hash, prefix string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if !w.visitTree(tree) {
		return nil
	}
	t, err := w.r.tree(tree)
	if err != nil {
		if prefix != "" {
			return fmt.Errorf("%s: %w", strings.TrimSuffix(prefix, "/"), err)
		}
		return err
	}
	for _, e := range t.Entries {
		switch e.Mode {
		case filemode.Dir:
			if err := w.walk(e.Hash, prefix+e.Name+"/"); err != nil {
				return err
			}
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			if !w.visitBlob(e.Hash) {
				continue
			}
			path := prefix + e.Name
			p, perr, ok, err := w.r.classify(e.Hash)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if !ok {
				continue
			}
			mode := e.Mode
			if mode == filemode.Deprecated {
				mode = filemode.Regular
			}
			if err := w.fn(Entry{Path: path, Mode: mode, Blob: e.Hash, Pointer: p, Err: perr}); err != nil {
				w.fnErr = err
				return errStop
			}
		}
		// Symlinks and submodules are never pointers.
	}
	return nil
}

// mark records every tree and blob under tree as not to be reported in
// the current phase (in phase 1, not read; in phase 2, done), reading
// trees only.
func (w *walker) mark(tree plumbing.Hash) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	m := marked1
	if w.phase2 {
		m = done2
	}
	if s := w.trees[tree]; s == m || !w.phase2 && s != 0 {
		return nil
	}
	w.trees[tree] = m
	t, err := w.r.tree(tree)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		switch e.Mode {
		case filemode.Dir:
			if err := w.mark(e.Hash); err != nil {
				return err
			}
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			if w.phase2 || w.blobs[e.Hash] == 0 {
				w.blobs[e.Hash] = m
			}
		}
	}
	return nil
}

// classify decides whether blob h is a pointer. ok is false for blobs that
// do not start like one; otherwise p is the pointer or perr why it does not
// parse. err reports a failure to read the blob.
func (r *Repo) classify(h plumbing.Hash) (p pointer.Pointer, perr error, ok bool, err error) {
	size, b, err := r.blobHead(h, pointer.MaxLen)
	if err != nil || size < int64(len(pointer.Prefix)) || size > pointer.MaxLen {
		return p, nil, false, err
	}
	p, perr = pointer.Parse(b)
	if errors.Is(perr, pointer.ErrNotPointer) {
		return p, nil, false, nil
	}
	return p, perr, true, nil
}
