package gitrepo

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/lodevcs/lode/hooks/lfs"
)

// LFSEntry is a blob in a tree that is a Git LFS pointer.
type LFSEntry struct {
	Path    string            // slash-separated path in the tree
	Mode    filemode.FileMode // filemode.Regular or filemode.Executable
	Blob    plumbing.Hash
	Pointer lfs.Pointer
}

// LFSPointers calls fn for every blob in the tree of commit that is a
// valid Git LFS pointer (lfs.Parse accepts it), in path order, once per
// path: history from before a move from Git LFS. Like Pointers, it reads
// only blobs small enough to be one, and skips symlinks and submodules.
// An error from fn stops the walk and is returned as it is.
func (r *Repo) LFSPointers(ctx context.Context, commit plumbing.Hash, fn func(LFSEntry) error) error {
	c, err := r.commit(commit)
	if err != nil {
		return fmt.Errorf("list Git LFS pointers at %s: %w", commit, err)
	}
	var fnErr error
	var walk func(tree plumbing.Hash, prefix string) error
	walk = func(tree plumbing.Hash, prefix string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := r.tree(tree)
		if err != nil {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		for _, e := range t.Entries {
			switch e.Mode {
			case filemode.Dir:
				if err := walk(e.Hash, prefix+e.Name+"/"); err != nil {
					return err
				}
			case filemode.Regular, filemode.Executable, filemode.Deprecated:
				size, b, err := r.blobHead(e.Hash, lfs.MaxLen)
				if err != nil {
					return fmt.Errorf("%s%s: %w", prefix, e.Name, err)
				}
				if size > lfs.MaxLen || !lfs.MightBe(b) {
					continue
				}
				p, err := lfs.Parse(b)
				if err != nil {
					continue
				}
				mode := e.Mode
				if mode == filemode.Deprecated {
					mode = filemode.Regular
				}
				if err := fn(LFSEntry{Path: prefix + e.Name, Mode: mode, Blob: e.Hash, Pointer: p}); err != nil {
					fnErr = err
					return errStop
				}
			}
		}
		return nil
	}
	if err := walk(c.TreeHash, ""); err != nil {
		if fnErr != nil {
			return fnErr
		}
		return fmt.Errorf("list Git LFS pointers at %s: %w", commit, err)
	}
	return nil
}
