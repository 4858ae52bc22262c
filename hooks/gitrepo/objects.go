package gitrepo

import (
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// TreeEntry is one entry of a git tree.
type TreeEntry struct {
	Name string
	Mode filemode.FileMode // Dir, Regular, Executable, Symlink or Submodule
	Hash plumbing.Hash
}

// CommitTree returns the root tree of a commit.
func (r *Repo) CommitTree(commit plumbing.Hash) (plumbing.Hash, error) {
	c, err := r.commit(commit)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.TreeHash, nil
}

// ReadTree returns the entries of tree h, in git's order.
func (r *Repo) ReadTree(h plumbing.Hash) ([]TreeEntry, error) {
	t, err := r.tree(h)
	if err != nil {
		return nil, err
	}
	out := make([]TreeEntry, len(t.Entries))
	for i, e := range t.Entries {
		out[i] = TreeEntry{Name: e.Name, Mode: e.Mode, Hash: e.Hash}
	}
	return out, nil
}

// BlobHead returns the size of blob h and, when it is at most max bytes,
// its content; larger blobs are not read.
func (r *Repo) BlobHead(h plumbing.Hash, max int64) (int64, []byte, error) {
	return r.blobHead(h, max)
}

// ReadBlob returns the whole content of blob h.
func (r *Repo) ReadBlob(h plumbing.Hash) ([]byte, error) {
	b, err := r.readBlob(h)
	if err != nil {
		return nil, fmt.Errorf("read blob: %w", err)
	}
	return b, nil
}

// CommitTime returns the committer time of a commit.
func (r *Repo) CommitTime(commit plumbing.Hash) (time.Time, error) {
	c, err := r.commit(commit)
	if err != nil {
		return time.Time{}, err
	}
	return c.Committer.When, nil
}
