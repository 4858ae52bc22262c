package gitrepo

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// IndexBlobs returns the blob of each regular file in the index of the
// working tree Open found (stage 0 only: a path in a merge conflict is
// left out), by slash-separated path. An absent index is empty. It reads
// the index file as it is on disk: during a git command that holds the
// index lock, the state before the command.
func (r *Repo) IndexBlobs() (map[string]plumbing.Hash, error) {
	f, err := os.Open(filepath.Join(r.gitDir, "index"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]plumbing.Hash{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the index: %w", err)
	}
	defer f.Close()
	var idx index.Index
	if err := index.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("read the index %s: %w", f.Name(), err)
	}
	out := make(map[string]plumbing.Hash, len(idx.Entries))
	for _, e := range idx.Entries {
		// Stage 0 (go-git names no constant for it: its Merged is 1).
		if e.Stage != 0 || e.SkipWorktree {
			continue
		}
		if e.Mode == filemode.Regular || e.Mode == filemode.Executable {
			out[e.Name] = e.Hash
		}
	}
	return out, nil
}
