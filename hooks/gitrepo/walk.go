package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// the entry with the first path it was met at. The order is deterministic
// (newer commits first, by committer date) but otherwise unspecified. fn is
// called on the calling goroutine; an error from fn stops the walk and is
// returned as it is.
func (r *Repo) ReachablePointers(ctx context.Context, include, exclude []plumbing.Hash, fn func(commit plumbing.Hash, e Entry) error) error {
	commits, boundary, err := r.commitRange(ctx, include, exclude)
	if err != nil {
		return fmt.Errorf("list reachable pointers: %w", err)
	}
	w := &walker{r: r, ctx: ctx, seenTrees: make(map[plumbing.Hash]bool), seenBlobs: make(map[plumbing.Hash]bool)}
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
	w := &walker{r: r, ctx: ctx, seenTrees: make(map[plumbing.Hash]bool), seenBlobs: make(map[plumbing.Hash]bool)}
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

// walker walks trees for Pointers and ReachablePointers.
type walker struct {
	r   *Repo
	ctx context.Context
	fn  func(Entry) error
	// fnErr is the error fn returned, which ends the walk and is returned
	// to the caller unwrapped.
	fnErr error
	// seenTrees and seenBlobs, when not nil, make the walk visit each tree
	// and report each blob once.
	seenTrees map[plumbing.Hash]bool
	seenBlobs map[plumbing.Hash]bool
}

// errStop unwinds the walk after fn failed; the error is in fnErr.
var errStop = errors.New("stopped by callback")

func (w *walker) walk(tree plumbing.Hash, prefix string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.seenTrees != nil {
		if w.seenTrees[tree] {
			return nil
		}
		w.seenTrees[tree] = true
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
			if w.seenBlobs != nil {
				if w.seenBlobs[e.Hash] {
					continue
				}
				w.seenBlobs[e.Hash] = true
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

// mark records every tree and blob under tree as seen, reading trees only.
func (w *walker) mark(tree plumbing.Hash) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.seenTrees[tree] {
		return nil
	}
	w.seenTrees[tree] = true
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
			w.seenBlobs[e.Hash] = true
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
