package commitfs

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/lodevcs/lode/cas/bytelru"
	"github.com/lodevcs/lode/cas/pointer"
)

// Errors of Trees, for callers that branch on them. ErrNotExist wraps
// fs.ErrNotExist.
var (
	// ErrNotExist means no entry by that path is shown: there is none in
	// the tree, or git refuses to check it out (see the package doc).
	ErrNotExist = fmt.Errorf("not in the commit: %w", fs.ErrNotExist)
	// ErrInvalidPath means a path that no tree entry can have: an empty,
	// "." or ".." component, or one holding NUL.
	ErrInvalidPath = errors.New("invalid path")
	// ErrIsDir means a directory was opened as a file.
	ErrIsDir = errors.New("is a directory")
	// ErrNotDir means a file was listed as a directory.
	ErrNotDir = errors.New("not a directory")
	// ErrDamaged means a file whose blob starts like a lode pointer but
	// does not parse: checkout refuses it, and so does Open.
	ErrDamaged = errors.New("damaged lode pointer (checkout refuses it too)")
)

// Trees reads the trees of a repository's commits as the mount shows
// them, without FUSE: the same entries (names git refuses to check out
// are not there), the same pointer handling (a lode file has the size and
// the bytes its pointer names, read through Files and checked; so has a
// Git LFS file, through Foreign; a damaged pointer cannot be opened), for serving a commit by other means (package
// fuse/serve serves it over HTTP). Paths are "/"-separated, relative to
// the root, "" for the root itself.
//
// Directories read are kept (by tree and path) up to a bound of entries in
// all, least recently used first dropped; git blobs of plain files share
// the mount's blob cache. A Trees is safe for concurrent use.
type Trees struct {
	f    *filesys
	dirs *dirCache

	mu    sync.Mutex    // guards heads
	heads map[Hash]head // blob heads read, by blob (objects never change); emptied at maxHeads
}

// maxHeads bounds the blob heads a Trees keeps (each at most
// pointer.MaxLen bytes of content, or a symlink target).
const maxHeads = 1 << 15

// NewTrees returns a Trees that reads through opts.Objects and
// opts.Files; opts.Logf gets what the mount would log, opts.ReadTimeout
// bounds each read of a lode file as in the mount. Root and the mount's
// options are not used.
func NewTrees(opts Options) (*Trees, error) {
	if opts.Objects == nil || opts.Files == nil {
		return nil, errors.New("commitfs: Options.Objects and Options.Files are required")
	}
	if opts.ReadTimeout < 0 {
		return nil, errors.New("commitfs: Options.ReadTimeout is negative")
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	f := &filesys{objects: opts.Objects, files: opts.Files, foreign: opts.Foreign, logf: logf, readTimeout: cmp.Or(opts.ReadTimeout, DefaultReadTimeout),
		uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), blobs: bytelru.New[Hash](blobCacheSize)}
	return &Trees{f: f, dirs: newDirCache(dirCacheEntries)}, nil
}

// Kind is what an entry shows as.
type Kind uint8

// Kinds of entries.
const (
	KindDir Kind = iota + 1
	KindFile
	KindSymlink
)

func (k Kind) String() string {
	switch k {
	case KindDir:
		return "dir"
	case KindFile:
		return "file"
	case KindSymlink:
		return "symlink"
	}
	return "unknown"
}

// Stat describes one entry of a commit's tree as the mount shows it.
type Stat struct {
	Name string // the last component of the path; "" for the root
	Path string // from the root, "/"-separated; "" for the root
	Kind Kind
	// Size is a file's size (a lode file's is its pointer's) or a
	// symlink target's length; 0 for directories.
	Size int64
	Exec bool // an executable file
	// Object is the git object: a directory's tree (a submodule's
	// commit), a file's or symlink's blob (a lode file's pointer blob).
	Object Hash
	// Lode reports a lode file; Pointer is its pointer.
	Lode    bool
	Pointer pointer.Pointer
	// Foreign is the pointer of a file whose blob is another tool's
	// pointer (Git LFS's, see Options.Foreign), nil for any other entry.
	// Size is its size; Open reads it through Foreign.
	Foreign *ForeignPointer
	// Submodule reports a submodule, shown as an empty directory.
	Submodule bool
	// Target is a symlink's target, when read with its size.
	Target string
	// Damaged is why pointer.Parse refused the blob of a file that
	// starts like a lode pointer; such a file cannot be opened.
	Damaged error

	content []byte // a plain file's whole content, when small enough to come with its head
}

// ID is what names the content of the entry: a lode file's oid (BLAKE3,
// in hexadecimal), a foreign file's (such as "sha256:<hex>" for Git LFS),
// else its git object id, in hexadecimal.
func (s Stat) ID() string {
	switch {
	case s.Lode:
		return s.Pointer.OID.String()
	case s.Foreign != nil:
		return s.Foreign.OID
	}
	return s.Object.String()
}

// label names the content of a lode or foreign file in logs and errors.
func (s Stat) label() string {
	if s.Foreign != nil {
		return s.Foreign.Tool + " oid " + s.Foreign.OID
	}
	return "oid " + s.Pointer.OID.Short()
}

// splitPath returns the components of p, or ErrInvalidPath.
func splitPath(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		if !validName(c) {
			return nil, fmt.Errorf("%q: %w", p, ErrInvalidPath)
		}
	}
	return parts, nil
}

// Lookup returns the entry at path p of the tree root.
func (t *Trees) Lookup(ctx context.Context, root Hash, p string) (Stat, error) {
	parts, err := splitPath(p)
	if err != nil {
		return Stat{}, err
	}
	st := Stat{Kind: KindDir, Object: root}
	for i, name := range parts {
		if st.Kind != KindDir {
			return Stat{}, fmt.Errorf("/%s: %w", st.Path, ErrNotDir)
		}
		if st.Submodule {
			return Stat{}, fmt.Errorf("/%s: %w", p, ErrNotExist)
		}
		d, err := t.dir(ctx, st.Path, st.Object)
		if err != nil {
			return Stat{}, err
		}
		j, ok := d.index[name]
		if !ok {
			return Stat{}, fmt.Errorf("/%s: %w", strings.Join(parts[:i+1], "/"), ErrNotExist)
		}
		if st, err = t.stat(ctx, st.Path, d.entries[j]); err != nil {
			return Stat{}, err
		}
	}
	return st, nil
}

// ReadDir returns the entries of the directory at p of the tree root,
// in git's order, with their sizes and pointers.
func (t *Trees) ReadDir(ctx context.Context, root Hash, p string) ([]Stat, error) {
	st, err := t.Lookup(ctx, root, p)
	if err != nil {
		return nil, err
	}
	if st.Kind != KindDir {
		return nil, fmt.Errorf("/%s: %w", p, ErrNotDir)
	}
	if st.Submodule {
		return nil, nil
	}
	d, err := t.dir(ctx, st.Path, st.Object)
	if err != nil {
		return nil, err
	}
	out := make([]Stat, 0, len(d.entries))
	for _, e := range d.entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := t.stat(ctx, st.Path, e)
		if err != nil {
			return nil, err
		}
		s.content = nil // a listing holds no content
		out = append(out, s)
	}
	return out, nil
}

// stat describes entry e of the directory at dir, reading its blob's head.
func (t *Trees) stat(ctx context.Context, dir string, e Entry) (Stat, error) {
	st := Stat{Name: e.Name, Path: childPath(dir, e.Name), Object: e.Hash, Exec: e.Mode&0o111 != 0}
	switch e.Mode & syscall.S_IFMT {
	case ModeDir:
		st.Kind, st.Exec = KindDir, false
		return st, nil
	case ModeSubmodule:
		st.Kind, st.Exec, st.Submodule = KindDir, false, true
		return st, nil
	}
	h, err := t.head(ctx, e)
	if err != nil {
		return Stat{}, fmt.Errorf("read /%s (blob %s): %w", st.Path, e.Hash, err)
	}
	st.Kind, st.Size = KindFile, h.size
	switch h.kind {
	case headLink:
		st.Kind, st.Exec, st.Target = KindSymlink, false, string(h.content)
	case headLode:
		st.Lode, st.Pointer = true, h.ptr
	case headForeign:
		fp := h.foreign
		st.Foreign = &fp
	case headDamaged:
		st.Damaged = h.err
	default:
		st.content = h.content
	}
	return st, nil
}

// head returns the head of e's blob, read once.
func (t *Trees) head(ctx context.Context, e Entry) (head, error) {
	symlink := e.Mode&syscall.S_IFMT == ModeSymlink
	t.mu.Lock()
	h, ok := t.heads[e.Hash]
	t.mu.Unlock()
	if ok && (h.kind == headLink) == symlink {
		return h, nil
	}
	h, err := t.f.readHead(ctx, e)
	if err != nil {
		return head{}, err
	}
	t.mu.Lock()
	if t.heads == nil || len(t.heads) >= maxHeads {
		t.heads = map[Hash]head{}
	}
	t.heads[e.Hash] = h
	t.mu.Unlock()
	return h, nil
}

// loadedDir is a directory's shown entries.
type loadedDir struct {
	entries []Entry
	index   map[string]int
}

// dir returns the shown entries of tree, the directory at path p.
func (t *Trees) dir(ctx context.Context, p string, tree Hash) (*loadedDir, error) {
	key := dirKey{tree, p}
	if d, ok := t.dirs.get(key); ok {
		return d, nil
	}
	es, err := t.f.objects.ReadTree(ctx, tree)
	if err != nil {
		return nil, fmt.Errorf("read directory /%s (tree %s): %w", p, tree, err)
	}
	entries, index := t.f.checkEntries(p, tree, es)
	d := &loadedDir{entries: entries, index: index}
	t.dirs.put(key, d)
	return d, nil
}

// Open opens the file st describes (from Lookup) for reading: a lode file
// through Files, a foreign one through Foreign (which checks it whole
// first: a damaged object is an error wrapping cas.ErrCorrupt), a plain
// file from its git blob (read whole, as the mount reads it).
func (t *Trees) Open(ctx context.Context, st Stat) (*File, error) {
	switch {
	case st.Kind == KindDir:
		return nil, fmt.Errorf("/%s: %w", st.Path, ErrIsDir)
	case st.Kind != KindFile:
		return nil, fmt.Errorf("/%s is a %s, not a file", st.Path, st.Kind)
	case st.Damaged != nil:
		t.f.logf("commitfs: open /%s (blob %s): a damaged lode pointer, which checkout would refuse too: %v", st.Path, st.Object, st.Damaged)
		return nil, fmt.Errorf("/%s: %w: %v", st.Path, ErrDamaged, st.Damaged)
	}
	f := &File{t: t, st: st}
	if !st.Lode && st.Foreign == nil {
		if st.content != nil || st.Size == 0 {
			f.data = st.content
			return f, nil
		}
		data, ok := t.f.blobs.Get(st.Object)
		if !ok {
			var err error
			if data, err = t.f.objects.ReadBlob(ctx, st.Object); err == nil && int64(len(data)) != st.Size {
				err = fmt.Errorf("read %d bytes, the blob's header says %d", len(data), st.Size)
			}
			if err != nil {
				return nil, fmt.Errorf("read /%s (blob %s): %w", st.Path, st.Object, err)
			}
			t.f.blobs.Put(st.Object, data)
		}
		f.data = data
		return f, nil
	}
	tctx, cancel := context.WithTimeout(ctx, t.f.readTimeout)
	defer cancel()
	var lf LodeFile
	var err error
	if st.Foreign != nil {
		lf, err = t.f.foreign.Open(tctx, *st.Foreign)
	} else {
		lf, err = t.f.files.Open(tctx, st.Pointer)
	}
	if err == nil && lf.Size() != st.Size {
		err = fmt.Errorf("opened file has %d bytes, its pointer says %d", lf.Size(), st.Size)
	}
	if err != nil {
		return nil, fmt.Errorf("open /%s (%s): %w", st.Path, st.label(), t.timedOut(ctx, tctx, err))
	}
	f.r = lf.NewReader()
	return f, nil
}

func (t *Trees) timedOut(ctx, tctx context.Context, err error) error {
	if ctx.Err() == nil && tctx.Err() != nil {
		return fmt.Errorf("timed out after %v: %w", t.f.readTimeout, err)
	}
	return err
}

// File is a file of a commit open for reading. Its methods may be called
// from one goroutine at a time.
type File struct {
	t    *Trees
	st   Stat
	data []byte      // a plain file's content
	r    RangeReader // a lode file's reader
}

// Stat returns what Lookup said of the file.
func (f *File) Stat() Stat { return f.st }

// Size returns the file's size.
func (f *File) Size() int64 { return f.st.Size }

// ReadAt reads len(p) bytes at off, like io.ReaderAt: fewer only at the
// end of the file, with io.EOF. A lode file's bytes are checked against
// its chunks' ids (by Files), a foreign file's were checked whole by
// Foreign; each call runs under the read timeout, and
// fails, with nothing returned, if a chunk cannot be had.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("commitfs: negative offset")
	}
	size := f.st.Size
	if off >= size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), size-off))
	if f.r == nil {
		n := copy(p[:want], f.data[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	tctx, cancel := context.WithTimeout(ctx, f.t.f.readTimeout)
	defer cancel()
	n, err := f.r.ReadAt(tctx, p[:want], off)
	if err == nil && n != want {
		err = fmt.Errorf("short read: %d of %d bytes", n, want)
	}
	if err != nil {
		err = f.t.timedOut(ctx, tctx, err)
		if ctx.Err() == nil {
			f.t.f.logf("commitfs: read /%s (%s) at offset %d: %v", f.st.Path, f.st.label(), off, err)
		}
		return 0, fmt.Errorf("read /%s (%s) at offset %d: %w", f.st.Path, f.st.label(), off, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close releases the file's reader.
func (f *File) Close() error {
	r := f.r
	f.r, f.data = nil, nil
	if c, ok := r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// dirCacheEntries bounds the tree entries a Trees keeps in all.
const dirCacheEntries = 1 << 18

type dirKey struct {
	tree Hash
	path string
}

// dirCache is an LRU of loaded directories, bounded by their entries in
// all (a directory larger than the bound is not kept).
type dirCache struct {
	max int

	mu    sync.Mutex // guards the fields below
	size  int
	lru   *list.List // of *dirCacheEntry, most recently used first
	byKey map[dirKey]*list.Element
}

type dirCacheEntry struct {
	key dirKey
	d   *loadedDir
}

func newDirCache(max int) *dirCache {
	return &dirCache{max: max, lru: list.New(), byKey: map[dirKey]*list.Element{}}
}

func (c *dirCache) get(k dirKey) (*loadedDir, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*dirCacheEntry).d, true
}

func (c *dirCache) put(k dirKey, d *loadedDir) {
	n := len(d.entries) + 1
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; ok || n > c.max {
		return
	}
	c.byKey[k] = c.lru.PushFront(&dirCacheEntry{k, d})
	c.size += n
	for c.size > c.max {
		el := c.lru.Back()
		e := el.Value.(*dirCacheEntry)
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		c.size -= len(e.d.entries) + 1
	}
}
