package commitfs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/lodevcs/lode/cas/bytelru"
	"github.com/lodevcs/lode/cas/pointer"
)

// maxLinkHead is how much of a symlink's blob a lookup reads at once: any
// target the kernel accepts (PATH_MAX) comes with its size.
const maxLinkHead = 4096

// filesys is what all nodes of one filesystem share. Set by NewRoot, then
// read-only.
type filesys struct {
	objects     Objects
	files       Files
	foreign     Foreign // nil: no foreign pointers
	logf        func(format string, args ...any)
	readTimeout time.Duration // bounds each lode file read (Options.ReadTimeout)
	mtime       uint64        // seconds since the epoch, for every node
	mtimeNs     uint32
	uid, gid    uint32 // owner shown for every node: whoever mounted
	blobs       *bytelru.Cache[Hash]

	// noOpen is set once the kernel is known to open files without
	// asking (FUSE_NO_OPEN_SUPPORT): Open then answers ENOSYS, after which
	// the kernel sends no OPEN, FLUSH or RELEASE for files, and reads
	// arrive without a handle.
	noOpen atomic.Bool
}

// fail turns err, met while doing what format and args describe, into the
// errno the kernel gets: EINTR when ctx was cancelled (the caller was
// interrupted, nothing is wrong), else EIO, and the error is logged.
func (f *filesys) fail(ctx context.Context, err error, format string, args ...any) syscall.Errno {
	if ctx.Err() != nil {
		return syscall.EINTR
	}
	f.logf("commitfs: "+format+": %v", append(args, err)...)
	return syscall.EIO
}

// failTimed is fail for work done under tctx, which is ctx with the read
// timeout: a request the caller interrupted is EINTR; one that ran out of
// time is EIO, logged as a timeout.
func (f *filesys) failTimed(ctx, tctx context.Context, err error, format string, args ...any) syscall.Errno {
	if ctx.Err() == nil && tctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", f.readTimeout, err)
	}
	return f.fail(ctx, err, format, args...)
}

// node is what every kind of node has.
type node struct {
	fs.Inode
	nodeInfo
}

// nodeInfo is a node's place in the filesystem. Set once, then read-only.
type nodeInfo struct {
	fsys *filesys
	path string // from the root, "/"-separated; "" for the root
	ino  uint64 // StableAttr.Ino, as identity(path) gives it
}

// setCommon fills the attributes that do not depend on the kind of node.
// setSize sets a's size and the 512-byte blocks it occupies.
func setSize(a *fuse.Attr, size int64) {
	a.Size = uint64(size)
	a.Blocks = (a.Size + 511) / 512
}

func (n *node) setCommon(a *fuse.Attr) {
	a.Ino = n.ino
	a.Nlink = 1
	a.Mtime, a.Mtimensec = n.fsys.mtime, n.fsys.mtimeNs
	a.Atime, a.Atimensec = a.Mtime, a.Mtimensec
	a.Ctime, a.Ctimensec = a.Mtime, a.Mtimensec
	a.Uid, a.Gid = n.fsys.uid, n.fsys.gid
	// The preferred I/O size: programs such as cat size their buffers
	// from it, and the mount serves reads of up to maxRead in one request.
	a.Blksize = maxRead
}

// Statfs reports an empty, read-only filesystem: a commit has no free
// space, and its size is not known without walking it.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 4096
	out.Frsize = 4096
	out.NameLen = 255
	return 0
}

// rootIno is the inode number of the root (FUSE's root node id).
const rootIno = 1

// identity returns the inode number and generation of the node at path.
// Both come from a SHA-256 of the path, so a path keeps its numbers across
// lookups, forgets and mounts, and two paths never share a node: go-fuse
// tells nodes apart by (mode, inode number, generation), 128 bits of
// hash. Only st_ino (64 bits) is visible to programs. Tree hashes are not
// used: one tree may appear at many paths.
func identity(path string) (ino, gen uint64) {
	if path == "" {
		return rootIno, 0
	}
	sum := sha256.Sum256([]byte(path))
	ino = binary.LittleEndian.Uint64(sum[0:8])
	gen = binary.LittleEndian.Uint64(sum[8:16])
	if ino <= rootIno || ino == ^uint64(0) { // reserved by FUSE and go-fuse
		ino = 2 + ino&1
	}
	return ino, gen
}

func childPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// validName reports whether a tree entry name can be shown. git never
// writes other names, but a tree is data and go-fuse must not see them.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// dirNode is a directory: a git tree, read on first use, or a submodule,
// shown empty.
type dirNode struct {
	node
	tree      Hash
	submodule bool // a gitlink: tree is a commit of another repository, never read

	mu      sync.Mutex // guards the fields below; held while the tree or heads are read
	loaded  bool
	entries []Entry        // valid names that git would check out, in git's order
	index   map[string]int // name -> position in entries
	heads   []head         // heads[i] is entries[i]'s blob head, once read
	listed  bool           // every head was read (or tried) for a listing

	// Prefetch (see reading): entries are read in order up to next;
	// those before ahead were offered to Files' Prefetch; a read of
	// entry mid or later offers the next batch.
	next, ahead, mid int
}

// Prefetch bounds: while a directory's files are read in order, up to
// prefetchWindow bytes of the small lode files after the one being read
// are offered to Files' Prefetch, in batches of up to prefetchBatch bytes
// (one call each, so that batches are read in parallel); a file of more
// than prefetchFile bytes ends the window (it has its own readahead).
// reorderSlack is how far back a read may go and still count as in order
// (readers in parallel finish slightly out of order).
const (
	prefetchWindow = 2 << 20
	prefetchBatch  = 256 << 10
	prefetchFile   = 1 << 20
	reorderSlack   = 16
)

// reading is told that lode file entry i is being read (a handle's first
// read, or a caller's). If the directory's files are being read in order
// (entry i comes right after the last read, or within what was
// prefetched), and the reader has passed the middle of what was offered,
// it offers the small lode files that follow, in listing order, to Files'
// Prefetch, up to prefetchWindow bytes ahead, and stores each file
// Prefetch reads whole in the kernel's page cache (FUSE_NOTIFY_STORE), so
// that reading it costs no READ request at all. Only entries whose heads
// are known (the directory was listed, or they were looked up) are
// offered. It never waits: with the directory busy (a listing reading
// heads) it does nothing.
func (d *dirNode) reading(i int) {
	p, ok := d.fsys.files.(Prefetcher)
	if !ok || !d.mu.TryLock() {
		return
	}
	defer d.mu.Unlock()
	switch {
	case i < d.next && i >= d.next-reorderSlack:
		return // out of order, but close: neither in order nor a jump
	case i >= d.next && (i <= d.next+1 || i < d.ahead):
		d.next = i + 1
	default: // a jump: not reading in order (yet)
		d.next, d.ahead, d.mid = i+1, i+1, i+1
		return
	}
	if i < d.mid {
		return
	}
	d.ahead = max(d.ahead, i+1)
	var queued int64 // offered already, after i
	for j := i + 1; j < d.ahead; j++ {
		if h := d.heads[j]; h.kind == headLode {
			queued += h.ptr.Size
		}
	}
	d.mid = i + 1 // unless all is offered: try again with the next read
	for queued < prefetchWindow {
		ps, names, bytes, end, stop := d.batch(d.ahead)
		if len(ps) > 0 && !p.Prefetch(ps, func(k int, data []byte) { d.store(names[k], ps[k], data) }) {
			return // busy
		}
		queued += bytes
		d.ahead = end
		if stop {
			break
		}
	}
	d.mid = i + 1 + (d.ahead-i)/2
}

// batch returns the small lode files of entries from start on, up to
// prefetchBatch bytes of them: their pointers, names and total size, the
// entry after the last one looked at, and whether the window must stop
// there (the end of the directory, an entry whose head is not known, or a
// file too large to prefetch). d.mu is held.
func (d *dirNode) batch(start int) (ps []pointer.Pointer, names []string, bytes int64, end int, stop bool) {
	for end = start; end < len(d.entries) && bytes < prefetchBatch; end++ {
		h := d.heads[end]
		if !needsHead(d.entries[end].Mode) {
			continue
		}
		if !h.read || h.kind == headLode && h.ptr.Size > prefetchFile {
			return ps, names, bytes, end, true
		}
		if h.kind == headLode && h.ptr.Size > 0 {
			ps = append(ps, h.ptr)
			names = append(names, d.entries[end].Name)
			bytes += h.ptr.Size
		}
	}
	return ps, names, bytes, end, end == len(d.entries)
}

// store puts data, the whole content of the lode file name of the
// directory, which ptr names, in the kernel's page cache, unless the file
// is being read already or the kernel has forgotten it. The kernel keeps
// it (files open with FOPEN_KEEP_CACHE) as long as memory allows.
func (d *dirNode) store(name string, ptr pointer.Pointer, data []byte) {
	ch := d.GetChild(name)
	if ch == nil {
		return
	}
	l, ok := ch.Operations().(*lodeNode)
	if !ok || l.foreign != nil || l.ptr != ptr || int64(len(data)) != ptr.Size || l.opened.Load() {
		return
	}
	_ = ch.WriteCache(0, data) // a hint: the read fetches whatever is not there
}

// headKind says what a blob shows as.
type headKind uint8

const (
	headPlain   headKind = iota // a file whose content is its blob
	headLode                    // a lode pointer: the file it names
	headDamaged                 // starts like a lode pointer, does not parse
	headLink                    // a symlink's target
	headForeign                 // another tool's pointer (Foreign): the file it names
)

// head is what a lookup needs of a file's or symlink's blob: its size and,
// for a small one, its content, read once. A pointer is kept parsed.
type head struct {
	read    bool
	kind    headKind
	size    int64
	content []byte          // headPlain: the blob if small enough to be a pointer; headLink: the target if read
	ptr     pointer.Pointer // headLode
	foreign ForeignPointer  // headForeign
	err     error           // headDamaged: why pointer.Parse refused it
}

// needsHead reports whether entries of mode m have a blob head to read:
// files and symlinks.
func needsHead(m uint32) bool {
	switch m & syscall.S_IFMT {
	case ModeDir, ModeSubmodule:
		return false
	}
	return true
}

// readHead reads the head of e's blob.
func (f *filesys) readHead(ctx context.Context, e Entry) (head, error) {
	if e.Mode&syscall.S_IFMT == ModeSymlink {
		size, target, err := f.objects.BlobHead(ctx, e.Hash, maxLinkHead)
		return head{read: true, kind: headLink, size: size, content: target}, err
	}
	size, b, err := f.objects.BlobHead(ctx, e.Hash, pointer.MaxLen)
	if err != nil {
		return head{}, err
	}
	h := head{read: true, kind: headPlain, size: size, content: b}
	if b != nil && pointer.MightBe(b) {
		ptr, err := pointer.Parse(b)
		switch {
		case err == nil:
			return head{read: true, kind: headLode, size: ptr.Size, ptr: ptr}, nil
		case !errors.Is(err, pointer.ErrNotPointer):
			return head{read: true, kind: headDamaged, size: size, err: err}, nil
		}
	}
	if b != nil && f.foreign != nil {
		if fp, ok := f.foreign.Parse(b); ok {
			return head{read: true, kind: headForeign, size: fp.Size, foreign: fp}, nil
		}
	}
	return h, nil
}

// load returns the directory's entries, reading the tree the first time.
// A failed read is not remembered.
func (d *dirNode) load(ctx context.Context) ([]Entry, map[string]int, syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.loadLocked(ctx)
}

func (d *dirNode) loadLocked(ctx context.Context) ([]Entry, map[string]int, syscall.Errno) {
	if d.loaded || d.submodule {
		return d.entries, d.index, 0
	}
	es, err := d.fsys.objects.ReadTree(ctx, d.tree)
	if err != nil {
		return nil, nil, d.fsys.fail(ctx, err, "read directory /%s (tree %s)", d.path, d.tree)
	}
	entries, index := d.fsys.checkEntries(d.path, d.tree, es)
	d.entries, d.index, d.heads, d.loaded = entries, index, make([]head, len(entries)), true
	return entries, index, 0
}

// checkEntries returns the entries of tree (the directory at dir) that
// can be shown, in git's order, and their positions by name: those with
// valid names that git would check out. Each one left out is logged.
func (f *filesys) checkEntries(dir string, tree Hash, es []Entry) ([]Entry, map[string]int) {
	entries := make([]Entry, 0, len(es))
	index := make(map[string]int, len(es))
	for _, e := range es {
		if _, dup := index[e.Name]; dup || !validName(e.Name) {
			f.logf("commitfs: directory /%s (tree %s): entry %q skipped: not a valid file name", dir, tree, e.Name)
			continue
		}
		if gitRefuses(dir, e.Name, e.Mode) {
			f.logf("commitfs: %q hidden: git refuses to check out this name (a spelling of .git, or a symlink git must not follow)", "/"+childPath(dir, e.Name))
			continue
		}
		index[e.Name] = len(entries)
		entries = append(entries, e)
	}
	return entries, index
}

// list loads the directory and reads the heads of all its files and
// symlinks in one pass, so that the lookups of a listing (READDIRPLUS
// looks up every entry, and ls -l or find would next) need no object
// reads. A head that cannot be read is left for its lookup, which tries
// again and reports the error.
func (d *dirNode) list(ctx context.Context) ([]Entry, syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()
	entries, _, errno := d.loadLocked(ctx)
	if errno != 0 || d.listed {
		return entries, errno
	}
	for i, e := range entries {
		if d.heads[i].read || !needsHead(e.Mode) {
			continue
		}
		if ctx.Err() != nil {
			return entries, 0 // the lookups read the rest
		}
		if h, err := d.fsys.readHead(ctx, e); err == nil {
			d.heads[i] = h
		}
	}
	d.listed = true
	return entries, 0
}

// headOf returns the head of entry i, reading it if no listing or earlier
// lookup did.
func (d *dirNode) headOf(ctx context.Context, i int) (head, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if h := d.heads[i]; h.read {
		return h, nil
	}
	h, err := d.fsys.readHead(ctx, d.entries[i])
	if err != nil {
		return head{}, err
	}
	d.heads[i] = h
	return h, nil
}

func (d *dirNode) fillAttr(a *fuse.Attr) {
	d.setCommon(a)
	a.Mode = syscall.S_IFDIR | 0o755
}

// Getattr reports a directory. Its link count is 1, which tells find and
// others that the number of subdirectories is unknown (as on btrfs).
func (d *dirNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fillAttr(&out.Attr)
	return 0
}

// Lookup finds name in the directory. A file's size takes one read of its
// blob's header (and of its content, when small enough to be a pointer),
// unless a listing of the directory read it already.
func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	_, index, errno := d.load(ctx)
	if errno != 0 {
		return nil, errno
	}
	i, ok := index[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	return d.child(ctx, i, out)
}

// attrNode is a node that can report its attributes.
type attrNode interface {
	fs.InodeEmbedder
	fillAttr(a *fuse.Attr)
}

// child makes the node for entry i.
func (d *dirNode) child(ctx context.Context, i int, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	e := d.entries[i] // set once by load, then read-only
	p := childPath(d.path, e.Name)
	ino, gen := identity(p)
	info := nodeInfo{fsys: d.fsys, path: p, ino: ino}
	var ops attrNode
	switch e.Mode & syscall.S_IFMT {
	case ModeDir:
		ops = &dirNode{node: node{nodeInfo: info}, tree: e.Hash}
	case ModeSubmodule:
		ops = &dirNode{node: node{nodeInfo: info}, tree: e.Hash, submodule: true}
	default: // a file or a symlink
		h, err := d.headOf(ctx, i)
		if err != nil {
			what := "file"
			if e.Mode&syscall.S_IFMT == ModeSymlink {
				what = "symlink"
			}
			return nil, d.fsys.fail(ctx, err, "read %s /%s (blob %s)", what, p, e.Hash)
		}
		exec := e.Mode&0o111 != 0
		switch h.kind {
		case headLink:
			ops = &linkNode{node: node{nodeInfo: info}, blob: e.Hash, size: h.size, target: h.content}
		case headLode:
			ops = &lodeNode{node: node{nodeInfo: info}, ptr: h.ptr, exec: exec, dir: d, index: i}
		case headForeign:
			fp := h.foreign
			ops = &lodeNode{node: node{nodeInfo: info}, foreign: &fp, exec: exec, dir: d, index: i}
		case headDamaged:
			ops = &damagedNode{node: node{nodeInfo: info}, blob: e.Hash, size: h.size, exec: exec, err: h.err}
		default:
			ops = &blobNode{node: node{nodeInfo: info}, blob: e.Hash, size: h.size, exec: exec, content: h.content}
		}
	}
	var attr fuse.Attr
	ops.fillAttr(&attr)
	ch := d.NewInode(ctx, ops, fs.StableAttr{Mode: attr.Mode & syscall.S_IFMT, Ino: ino, Gen: gen})
	out.Attr = attr
	return ch, 0
}

// OpendirHandle opens the directory for listing. The kernel may keep the
// listing (FOPEN_CACHE_DIR), so a directory is listed once per mount
// unless memory runs short.
func (d *dirNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{d: d}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// dirHandle lists a directory: ".", "..", then the tree's entries in git's
// order. The offset of an entry is its position plus one.
type dirHandle struct {
	d *dirNode

	mu   sync.Mutex // guards list, pos (go-fuse serialises calls per handle; this keeps it obvious)
	list []fuse.DirEntry
	pos  int
}

// build makes the listing on first use.
func (h *dirHandle) build(ctx context.Context) syscall.Errno {
	if h.list != nil {
		return 0
	}
	entries, errno := h.d.list(ctx)
	if errno != 0 {
		return errno
	}
	parent := uint64(rootIno)
	if h.d.path != "" {
		parent, _ = identity(parentPath(h.d.path))
	}
	list := make([]fuse.DirEntry, 0, len(entries)+2)
	list = append(list,
		fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: h.d.ino},
		fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: parent})
	for _, e := range entries {
		ino, _ := identity(childPath(h.d.path, e.Name))
		list = append(list, fuse.DirEntry{Name: e.Name, Mode: typeOf(e.Mode), Ino: ino})
	}
	for i := range list {
		list[i].Off = uint64(i + 1)
	}
	h.list = list
	return 0
}

// typeOf returns the file type bits a git mode shows as.
func typeOf(mode uint32) uint32 {
	switch mode & syscall.S_IFMT {
	case ModeDir, ModeSubmodule:
		return syscall.S_IFDIR
	case ModeSymlink:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

// Readdirent returns the next entry, or nil at the end.
func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if errno := h.build(ctx); errno != 0 {
		return nil, errno
	}
	if h.pos >= len(h.list) {
		return nil, 0
	}
	e := h.list[h.pos]
	h.pos++
	return &e, 0
}

// Seekdir continues the listing after the entry whose offset is off.
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	h.mu.Lock()
	defer h.mu.Unlock()
	if errno := h.build(ctx); errno != 0 {
		return errno
	}
	if off > uint64(len(h.list)) {
		return syscall.EINVAL
	}
	h.pos = int(off)
	return 0
}

// Releasedir drops the listing.
func (h *dirHandle) Releasedir(ctx context.Context, releaseFlags uint32) {
	h.mu.Lock()
	h.list = nil
	h.mu.Unlock()
}

// filePerm returns the permission bits shown for a file: git knows only
// executable or not.
func filePerm(exec bool) uint32 {
	if exec {
		return 0o755
	}
	return 0o644
}

// checkOpen rejects opening for anything but reading. The mount is
// read-only, so the kernel already does; this is the second line.
func checkOpen(flags uint32) syscall.Errno {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&(syscall.O_TRUNC|syscall.O_APPEND|syscall.O_CREAT) != 0 {
		return syscall.EROFS
	}
	return 0
}

// blobNode is a file whose content is its git blob.
type blobNode struct {
	node
	blob    Hash
	size    int64
	exec    bool
	content []byte // the whole content when the lookup read it (small blobs); else nil
}

func (b *blobNode) fillAttr(a *fuse.Attr) {
	b.setCommon(a)
	a.Mode = syscall.S_IFREG | filePerm(b.exec)
	setSize(a, b.size)
}

// Getattr reports the file.
func (b *blobNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	b.fillAttr(&out.Attr)
	return 0
}

// Open returns a handle that reads the blob on its first read, or, once
// the kernel opens files without asking, ENOSYS (see filesys.noOpen). The
// kernel keeps pages across opens (FOPEN_KEEP_CACHE, also the default of
// opens without a request) and closes without a FLUSH (FOPEN_NOFLUSH).
func (b *blobNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := checkOpen(flags); errno != 0 {
		return nil, 0, errno
	}
	if b.fsys.noOpen.Load() {
		return nil, 0, syscall.ENOSYS
	}
	return &blobHandle{n: b}, fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

// Read returns the bytes at off, through the handle if there is one, else
// from the blob: kept in the node when small, else in the filesystem's
// blob cache.
func (b *blobNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h, ok := fh.(*blobHandle); ok {
		return h.Read(ctx, dest, off)
	}
	if off >= b.size {
		return fuse.ReadResultData(nil), 0
	}
	data := b.content
	if data == nil {
		var errno syscall.Errno
		if data, errno = b.readBlob(ctx, off); errno != 0 {
			return nil, errno
		}
	}
	end := min(off+int64(len(dest)), int64(len(data)))
	return fuse.ReadResultData(data[off:end]), 0
}

// readBlob returns the whole blob, from the blob cache or read and kept
// there; off is the offset being read, for the log.
func (b *blobNode) readBlob(ctx context.Context, off int64) ([]byte, syscall.Errno) {
	if data, ok := b.fsys.blobs.Get(b.blob); ok {
		return data, 0
	}
	data, err := b.fsys.objects.ReadBlob(ctx, b.blob)
	if err == nil && int64(len(data)) != b.size {
		err = fmt.Errorf("read %d bytes, the blob's header says %d", len(data), b.size)
	}
	if err != nil {
		return nil, b.fsys.fail(ctx, err, "read /%s (blob %s) at offset %d", b.path, b.blob, off)
	}
	b.fsys.blobs.Put(b.blob, data)
	return data, 0
}

// Flush answers ENOSYS, after which the kernel sends no more FLUSH: a
// read-only file has nothing to flush. Files opened through Open do not
// get it at all (FOPEN_NOFLUSH); opens without a request do.
func (b *blobNode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// blobHandle is an open git file. It holds the whole blob once read.
type blobHandle struct {
	n *blobNode

	mu   sync.Mutex // guards data; held while the blob is read
	data []byte
}

func (h *blobHandle) load(ctx context.Context) ([]byte, syscall.Errno) {
	n := h.n
	if n.size == 0 {
		return nil, 0
	}
	if n.content != nil {
		return n.content, 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.data != nil {
		return h.data, 0
	}
	data, errno := n.readBlob(ctx, 0)
	if errno != 0 {
		return nil, errno
	}
	h.data = data
	return data, 0
}

// Read returns the bytes at off.
func (h *blobHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= h.n.size {
		return fuse.ReadResultData(nil), 0
	}
	data, errno := h.load(ctx)
	if errno != 0 {
		return nil, errno
	}
	end := min(off+int64(len(dest)), int64(len(data)))
	return fuse.ReadResultData(data[off:end]), 0
}

// lodeNode is a file whose git blob is a lode pointer: it shows the file
// the pointer names, read through Files; or, with foreign set, another
// tool's pointer (Git LFS's), read through Foreign. Either way the file
// has the pointer's size and its bytes are checked against it.
type lodeNode struct {
	node
	ptr     pointer.Pointer // a lode pointer; zero if foreign is set
	foreign *ForeignPointer // another tool's pointer, or nil
	exec    bool
	dir     *dirNode // the directory it is in, whose prefetch it drives
	index   int      // its position in dir.entries

	opened atomic.Bool // a handle has read it: prefetch leaves its pages alone

	mu      sync.Mutex    // guards streams
	streams []*lodeHandle // readers of reads without a handle, most recent caller first
}

// maxStreams bounds the readers a lode file keeps for reads that come
// without a handle (opens without a request), one per calling thread, so
// that readahead follows each of them.
const maxStreams = 4

// size is the file's size, as its pointer says.
func (l *lodeNode) size() int64 {
	if l.foreign != nil {
		return l.foreign.Size
	}
	return l.ptr.Size
}

// label names the file's content in logs: "oid <short lode oid>", or the
// foreign tool and its whole oid (so that its object can be found).
func (l *lodeNode) label() string {
	if l.foreign != nil {
		return l.foreign.Tool + " oid " + l.foreign.OID
	}
	return "oid " + l.ptr.OID.Short()
}

// open opens the file through Files, or Foreign.
func (l *lodeNode) open(ctx context.Context) (LodeFile, error) {
	if l.foreign != nil {
		return l.fsys.foreign.Open(ctx, *l.foreign)
	}
	return l.fsys.files.Open(ctx, l.ptr)
}

func (l *lodeNode) fillAttr(a *fuse.Attr) {
	l.setCommon(a)
	a.Mode = syscall.S_IFREG | filePerm(l.exec)
	setSize(a, l.size())
}

// Getattr reports the file.
func (l *lodeNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	l.fillAttr(&out.Attr)
	return 0
}

// Open returns a handle with its own reader (so readahead follows each
// handle's reads), opened on the first read, or, once the kernel opens
// files without asking, ENOSYS (see filesys.noOpen); reads then come
// without a handle, and each calling thread gets a reader of its own (up
// to maxStreams, the least recent dropped). The kernel keeps pages across
// opens (FOPEN_KEEP_CACHE, also the default of opens without a request)
// and closes without a FLUSH (FOPEN_NOFLUSH).
func (l *lodeNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := checkOpen(flags); errno != 0 {
		return nil, 0, errno
	}
	if l.fsys.noOpen.Load() {
		return nil, 0, syscall.ENOSYS
	}
	return l.newHandle(0), fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

func (l *lodeNode) newHandle(caller uint32) *lodeHandle {
	return &lodeHandle{n: l, caller: caller, opening: make(chan struct{}, 1)}
}

// Read reads through the handle, or without one through the caller's
// stream.
func (l *lodeNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*lodeHandle)
	if !ok {
		h = l.stream(ctx)
	}
	return h.Read(ctx, dest, off)
}

// stream returns the reader of the calling thread for reads without a
// handle. Its reader is never closed: it is dropped with the node, or
// when maxStreams other callers have read since.
func (l *lodeNode) stream(ctx context.Context) *lodeHandle {
	var caller uint32
	if c, ok := fuse.FromContext(ctx); ok {
		caller = c.Pid
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.streams, func(h *lodeHandle) bool { return h.caller == caller })
	var h *lodeHandle
	if i >= 0 {
		h = l.streams[i]
		l.streams = slices.Delete(l.streams, i, i+1)
	} else {
		h = l.newHandle(caller)
		if len(l.streams) == maxStreams {
			l.streams = l.streams[:maxStreams-1]
		}
	}
	l.streams = slices.Insert(l.streams, 0, h)
	return h
}

// Flush answers ENOSYS, after which the kernel sends no more FLUSH (see
// blobNode.Flush).
func (l *lodeNode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// lodeHandle is an open lode file, or the stream of one calling thread's
// reads without a handle.
type lodeHandle struct {
	n      *lodeNode
	caller uint32 // the thread whose stream it is; 0 for a handle

	// opening holds a token while Files.Open runs, so that one handle
	// opens one reader, and other reads wait for it no longer than
	// their own deadline.
	opening chan struct{}

	mu sync.Mutex // guards r
	r  RangeReader
}

func (h *lodeHandle) current() RangeReader {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.r
}

// reader returns the handle's reader, opening it on first use.
func (h *lodeHandle) reader(ctx context.Context) (RangeReader, error) {
	if r := h.current(); r != nil {
		return r, nil
	}
	select {
	case h.opening <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another read to open the file: %w", ctx.Err())
	}
	defer func() { <-h.opening }()
	if r := h.current(); r != nil {
		return r, nil
	}
	h.n.opened.Store(true)
	h.n.dir.reading(h.n.index)
	f, err := h.n.open(ctx)
	if err != nil {
		return nil, err
	}
	if f.Size() != h.n.size() {
		return nil, fmt.Errorf("opened file has %d bytes, its pointer says %d", f.Size(), h.n.size())
	}
	r := f.NewReader()
	h.mu.Lock()
	h.r = r
	h.mu.Unlock()
	return r, nil
}

// Read returns the bytes at off: all that were asked for, or all up to
// the end of the file. Anything less is an error (EIO), never a short
// read, which the kernel would take for the end of the file. Opening the
// reader and reading run under the filesystem's read timeout.
func (h *lodeHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	size := h.n.size()
	if off >= size || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	want := int(min(int64(len(dest)), size-off))
	fsys := h.n.fsys
	tctx, cancel := context.WithTimeout(ctx, fsys.readTimeout)
	defer cancel()
	r, err := h.reader(tctx)
	if err != nil {
		return nil, fsys.failTimed(ctx, tctx, err, "open /%s (%s) for a read at offset %d", h.n.path, h.n.label(), off)
	}
	n, err := r.ReadAt(tctx, dest[:want], off)
	if err == nil && n != want {
		err = fmt.Errorf("short read: %d of %d bytes", n, want)
	}
	if err != nil {
		return nil, fsys.failTimed(ctx, tctx, err, "read /%s (%s) at offset %d", h.n.path, h.n.label(), off)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Release closes the reader if it is an io.Closer.
func (h *lodeHandle) Release(ctx context.Context) syscall.Errno {
	h.mu.Lock()
	r := h.r
	h.r = nil
	h.mu.Unlock()
	if c, ok := r.(io.Closer); ok {
		if err := c.Close(); err != nil {
			h.n.fsys.logf("commitfs: close /%s: %v", h.n.path, err)
		}
	}
	return 0
}

// damagedNode is a file whose git blob starts like a lode pointer but is
// not one this build can read: malformed, or of an unknown version. Smudge
// refuses such a blob, so git's checkout fails for it; the mount lists it
// with its blob's size (its real size is unknown; not 0, so that reads
// reach the server) and fails every open with EIO, or, when files open
// without a request, every read.
type damagedNode struct {
	node
	blob Hash
	size int64 // the blob's
	exec bool
	err  error // from pointer.Parse
}

func (n *damagedNode) fillAttr(a *fuse.Attr) {
	n.setCommon(a)
	a.Mode = syscall.S_IFREG | filePerm(n.exec)
	setSize(a, n.size)
}

// Getattr reports the file.
func (n *damagedNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fillAttr(&out.Attr)
	return 0
}

// Open fails with EIO and logs why, or, once the kernel opens files
// without asking, answers ENOSYS (and Read fails).
func (n *damagedNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := checkOpen(flags); errno != 0 {
		return nil, 0, errno
	}
	if n.fsys.noOpen.Load() {
		return nil, 0, syscall.ENOSYS
	}
	return nil, 0, n.refuse("open")
}

// Read fails with EIO and logs why.
func (n *damagedNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return nil, n.refuse("read")
}

func (n *damagedNode) refuse(what string) syscall.Errno {
	n.fsys.logf("commitfs: %s /%s (blob %s): a damaged lode pointer, which checkout would refuse too: %v", what, n.path, n.blob, n.err)
	return syscall.EIO
}

// Flush answers ENOSYS, after which the kernel sends no more FLUSH (see
// blobNode.Flush).
func (n *damagedNode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// linkNode is a symbolic link; its target is its blob's content.
type linkNode struct {
	node
	blob   Hash
	size   int64
	target []byte // read with the size; nil if the blob was too large
}

func (l *linkNode) fillAttr(a *fuse.Attr) {
	l.setCommon(a)
	a.Mode = syscall.S_IFLNK | 0o777
	setSize(a, l.size)
}

// Getattr reports the link.
func (l *linkNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	l.fillAttr(&out.Attr)
	return 0
}

// Readlink returns the target. The kernel caches it.
func (l *linkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if l.target != nil || l.size == 0 {
		return l.target, 0
	}
	b, err := l.fsys.objects.ReadBlob(ctx, l.blob)
	if err != nil {
		return nil, l.fsys.fail(ctx, err, "read symlink /%s (blob %s)", l.path, l.blob)
	}
	return b, 0
}
