package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// Sentinel errors that callers branch on with errors.Is.
var (
	// ErrNotRepo means Open found no git repository at or above the
	// directory it was given.
	ErrNotRepo = errors.New("not a git repository")
	// ErrUnknownRevision means a revision names no commit: no such
	// reference or object, an ambiguous abbreviated hash, a walk past the
	// first commit, or syntax this package does not support.
	ErrUnknownRevision = errors.New("unknown revision")
)

// Repo is an open repository. Its methods are safe for concurrent use;
// they take turns on the object store (go-git's pack readers keep a read
// position), and callbacks run without holding it, so a callback may call
// other methods of the same Repo.
type Repo struct {
	// Set by Open, then read-only.
	gitDir    string
	commonDir string
	workTree  string

	mu      sync.Mutex // guards st: pack readers are stateful
	st      *filesystem.Storage
	loose   looseReader            // guarded by mu
	shallow map[plumbing.Hash]bool // read-only after Open
}

// lazyThreshold is the size above which objects are read on demand.
const lazyThreshold = 16 << 10

// Open finds the repository containing dir the way git does: at dir and
// then at each parent, a .git directory or a .git file ("gitdir: PATH", as
// in linked worktrees and submodules) marks a working tree, and a directory
// that is itself a git directory is a bare repository. It returns an error
// wrapping ErrNotRepo when there is none up to the root. The caller closes
// the Repo.
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	gitDir, workTree, err := discover(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	commonDir, err := commonDirOf(gitDir)
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	var bfs billy.Filesystem = osfs.New(gitDir)
	if commonDir != gitDir {
		bfs = dotgit.NewRepositoryFilesystem(bfs, osfs.New(commonDir))
	}
	st := filesystem.NewStorageWithOptions(bfs, cache.NewObjectLRUDefault(), filesystem.Options{
		// Keep pack files open: otherwise every object lookup reopens
		// the pack and rebuilds its reader.
		KeepDescriptors: true,
		// List loose objects once instead of trying to open a loose file
		// before every pack lookup (most objects are packed). The price:
		// objects written after the first lookup are not seen.
		ExclusiveAccess: true,
		// Loose objects above this size are read lazily, so that looking
		// one up costs its header only (pack entries above 16 KiB already
		// are). Smaller ones are read whole at once, which is cheaper than
		// a size lookup followed by a read.
		LargeObjectThreshold: lazyThreshold,
	})
	r := &Repo{gitDir: gitDir, commonDir: commonDir, workTree: workTree, st: st,
		loose: looseReader{dir: filepath.Join(commonDir, "objects")}}
	shallow, err := st.Shallow()
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open repository at %s: read shallow list: %w", dir, err)
	}
	if len(shallow) > 0 {
		r.shallow = make(map[plumbing.Hash]bool, len(shallow))
		for _, h := range shallow {
			r.shallow[h] = true
		}
	}
	return r, nil
}

// Close releases the open pack files. The Repo must not be used after.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Close()
}

// GitDir returns the absolute git directory of the working tree Open found
// (.git/worktrees/NAME for a linked worktree).
func (r *Repo) GitDir() string { return r.gitDir }

// CommonDir returns the absolute git directory that all worktrees share,
// where lode keeps .git/lode.
func (r *Repo) CommonDir() string { return r.commonDir }

// WorkTree returns the absolute top directory of the working tree, or ""
// for a bare repository.
func (r *Repo) WorkTree() string { return r.workTree }

// discover walks up from dir (absolute) as git's repository discovery does.
func discover(dir string) (gitDir, workTree string, err error) {
	for d := dir; ; {
		dotGit := filepath.Join(d, ".git")
		fi, err := os.Stat(dotGit)
		switch {
		case err == nil && fi.IsDir():
			if isGitDir(dotGit) {
				return dotGit, d, nil
			}
		case err == nil:
			g, err := readGitFile(dotGit)
			if err != nil {
				return "", "", err
			}
			return g, d, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", "", err
		}
		if isGitDir(d) {
			return d, "", nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", fmt.Errorf("%w (or any parent up to /)", ErrNotRepo)
		}
		d = parent
	}
}

// readGitFile reads a .git file ("gitdir: PATH") and returns the absolute
// git directory it names.
func readGitFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	p, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "gitdir: ")
	if !ok || p == "" {
		return "", fmt.Errorf("%s: not a gitdir file (want %q)", name, "gitdir: PATH")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(name), p)
	}
	if !isGitDir(p) {
		return "", fmt.Errorf("%s: %s is not a git directory", name, p)
	}
	return filepath.Clean(p), nil
}

// commonDirOf returns the common directory of gitDir: the target of its
// commondir file, or gitDir itself.
func commonDirOf(gitDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if errors.Is(err, fs.ErrNotExist) {
		return gitDir, nil
	}
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(b))
	if p == "" {
		return gitDir, nil
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(gitDir, p)
	}
	return filepath.Clean(p), nil
}

// isGitDir reports whether d looks like a git directory: a HEAD file and
// objects and refs directories (in its common directory).
func isGitDir(d string) bool {
	if fi, err := os.Stat(filepath.Join(d, "HEAD")); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	common, err := commonDirOf(d)
	if err != nil {
		return false
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(common, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// object reads the object h of type t (plumbing.AnyObject for any).
func (r *Repo) object(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.EncodedObject(t, h)
}

// tree reads and decodes the tree h.
func (r *Repo) tree(h plumbing.Hash) (*object.Tree, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, err := r.st.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	t, err := object.DecodeTree(r.st, o)
	if err != nil {
		return nil, fmt.Errorf("decode tree %s: %w", h, err)
	}
	return t, nil
}

// commit reads and decodes the commit h.
func (r *Repo) commit(h plumbing.Hash) (*object.Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, err := r.st.EncodedObject(plumbing.CommitObject, h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	c, err := object.DecodeCommit(r.st, o)
	if err != nil {
		return nil, fmt.Errorf("decode commit %s: %w", h, err)
	}
	return c, nil
}

// blobHead returns the size of blob h and, when it is at most max bytes,
// its content. Larger blobs are not read: for a loose object only its
// header is inflated; for a pack entry only its header, or for a delta its
// delta data.
func (r *Repo) blobHead(h plumbing.Hash, max int64) (size int64, content []byte, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A loose object the fast path cannot read (packed, in an alternate,
	// or unusual) is go-git's to read, or to report.
	if size, content, err = r.loose.head(h, max); err == nil {
		return size, content, nil
	}
	o, err := r.st.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return 0, nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	if o.Size() > max {
		return o.Size(), nil, nil
	}
	rc, err := o.Reader()
	if err != nil {
		return 0, nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err == nil && int64(len(b)) != o.Size() {
		err = fmt.Errorf("read %d bytes, want %d", len(b), o.Size())
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return o.Size(), b, nil
}

// readBlob returns the whole content of blob h.
func (r *Repo) readBlob(h plumbing.Hash) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, err := r.st.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	rc, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return b, nil
}
