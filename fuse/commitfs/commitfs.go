package commitfs

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/lodevcs/lode/cas/bytelru"
	"github.com/lodevcs/lode/cas/pointer"
)

// Hash names a git object (SHA-1). It converts to and from go-git's
// plumbing.Hash with a plain conversion.
type Hash [20]byte

// String returns h in hexadecimal.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Git modes of tree entries, as Entry.Mode carries them.
const (
	ModeDir        = 0o040000
	ModeRegular    = 0o100644
	ModeExecutable = 0o100755
	ModeSymlink    = 0o120000
	ModeSubmodule  = 0o160000
)

// Entry is one entry of a git tree.
type Entry struct {
	Name string
	Mode uint32 // git mode: ModeDir, ModeRegular, ModeExecutable, ModeSymlink or ModeSubmodule
	Hash Hash
}

// Objects is what the filesystem needs from the repository. Its methods
// are called from many goroutines at once. An error fails the operation
// that needed the object (EIO, logged); it is not remembered, so a later
// access tries again.
type Objects interface {
	// ReadTree returns the entries of tree h.
	ReadTree(ctx context.Context, h Hash) ([]Entry, error)
	// BlobHead returns the size of blob h and, when the size is at most
	// max, its content (nil otherwise).
	BlobHead(ctx context.Context, h Hash, max int64) (size int64, content []byte, err error)
	// ReadBlob returns the whole content of blob h.
	ReadBlob(ctx context.Context, h Hash) ([]byte, error)
}

// Files opens the files that lode pointers name. Open is called from many
// goroutines at once, once per open file handle (or, for files that open
// without a request, per calling thread), on the first read through it.
// Open, and ReadAt of the readers it returns, must return soon after ctx
// is done: that is how a read ends when the caller is interrupted or
// Options.ReadTimeout passes.
type Files interface {
	Open(ctx context.Context, p pointer.Pointer) (LodeFile, error)
}

// Prefetcher is an optional interface of Files. Prefetch is told of lode
// files that are likely to be read soon (the next small files of a
// directory whose files are being read in order) and may start reading
// them in the background, so that their first reads find them in memory.
// If got is not nil, Prefetch calls it with the whole content of each
// file of ps it read whole (checked as a read would check it) and its
// index in ps, one call at a time, from a goroutine of its own; data is
// valid only during the call. Prefetch must return at once, bound the
// memory and goroutines it uses, and report false if it did not take the
// work (too much in flight already): the files are then offered again
// with a later read. It is called from many goroutines at once; ps is not
// used after it returns.
type Prefetcher interface {
	Prefetch(ps []pointer.Pointer, got func(i int, data []byte)) bool
}

// LodeFile is a file opened through Files. Size must equal the pointer's
// size.
type LodeFile interface {
	Size() int64
	// NewReader returns a reader for one open file handle; readahead
	// follows its reads.
	NewReader() RangeReader
}

// RangeReader reads byte ranges of a LodeFile. ReadAt reads like
// io.ReaderAt except at the end of the file, where it returns n < len(p)
// and a nil error. It is called from several goroutines at once: the
// kernel issues reads of one handle in parallel (its readahead and the
// caller's read), so a sequential reader's requests may arrive slightly
// out of order. If it also implements io.Closer, Close is called when the
// file handle is released; a reader of reads without a handle (files that
// open without a request, see the package doc) is dropped, not closed.
type RangeReader interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
}

// Foreign reads files that git holds as another tool's pointer: Git LFS's,
// in history from before a move to lode. The mount and Trees ask it about
// every blob small enough to be a lode pointer that is not one; a blob it
// recognises shows as the file its pointer names, at the pointer's size.
// Its methods are called from many goroutines at once.
type Foreign interface {
	// Parse reports whether blob, the whole content of a git blob of at
	// most pointer.MaxLen bytes, is a pointer Foreign reads, and what it
	// names. It reads nothing else: listings call it for every small blob.
	Parse(blob []byte) (ForeignPointer, bool)
	// Open opens the file p names. Before a byte of it is read, the whole
	// of its content must have been checked against p (for Git LFS, its
	// SHA-256), and every byte the readers return must be of that checked
	// content; content that fails the check is an error wrapping
	// cas.ErrCorrupt. The returned LodeFile's Size must be p.Size. Open
	// and ReadAt honour ctx as Files' do.
	Open(ctx context.Context, p ForeignPointer) (LodeFile, error)
}

// ForeignPointer is what Foreign.Parse found in a blob.
type ForeignPointer struct {
	// Tool names the pointer's kind, such as "git-lfs"; it is shown in
	// listings and logs.
	Tool string
	// OID names the content in the tool's terms, such as
	// "sha256:<64 hex digits>"; it is the file's ID (serve's ETag).
	OID  string
	Size int64
}

// Options describe the commit to show and how to mount it.
type Options struct {
	// Root is the commit's root tree.
	Root Hash
	// Objects reads trees and blobs; required.
	Objects Objects
	// Files opens lode files; required.
	Files Files
	// Foreign, if set, opens the files that other tools' pointers name
	// (Git LFS's); nil shows such blobs as they are.
	Foreign Foreign
	// Logf receives failed reads (path, offset, error) and other
	// errors that the kernel can only see as EIO; nil discards them.
	// It is called from many goroutines at once.
	Logf func(format string, args ...any)
	// Name is the source shown in /proc/mounts and df, such as
	// "lode:REPO@REV"; empty means "lode".
	Name string
	// Time is the modification time of every file and directory, for
	// example the commit's time; the zero value shows the Unix epoch.
	Time time.Time

	// ReadTimeout bounds each read of a lode file, opening its reader
	// included: a read that has not finished by then fails with EIO
	// and is logged. Zero means DefaultReadTimeout.
	ReadTimeout time.Duration

	// AllowOther lets users other than the one who mounts read the
	// mount (FUSE's allow_other; for a non-root user, it needs
	// user_allow_other in /etc/fuse.conf).
	AllowOther bool
	// Debug logs every FUSE request and reply through Logf.
	Debug bool

	// withOpens keeps files opening with a request (OPEN, RELEASE)
	// even where the kernel can do without: for tests of the mount as
	// kernels without FUSE_NO_OPEN_SUPPORT see it.
	withOpens bool
}

// DefaultReadTimeout is the ReadTimeout of Options that do not set one.
const DefaultReadTimeout = 60 * time.Second

// Mount tuning. A commit never changes, so every cache may live as long as
// the kernel cares to keep it.
const (
	// cacheTimeout is how long the kernel may trust names, attributes
	// and failed lookups without asking again.
	cacheTimeout = 365 * 24 * time.Hour
	// maxRead is the largest read request asked of the kernel (max_read,
	// capped by the kernel's fuse max_pages_limit, 1 MiB by default).
	maxRead = 1 << 20
	// maxBackground bounds the kernel's asynchronous requests in flight
	// (readahead); go-fuse's default is 12.
	maxBackground = 64
)

// NewRoot returns the root directory of the filesystem that opts
// describe, for fs.Mount or fs.NewNodeFS. Mount is the usual way in.
func NewRoot(opts Options) (fs.InodeEmbedder, error) {
	if opts.Objects == nil || opts.Files == nil {
		return nil, errors.New("commitfs: Options.Objects and Options.Files are required")
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.ReadTimeout < 0 {
		return nil, errors.New("commitfs: Options.ReadTimeout is negative")
	}
	f := &filesys{objects: opts.Objects, files: opts.Files, foreign: opts.Foreign, logf: logf, readTimeout: cmp.Or(opts.ReadTimeout, DefaultReadTimeout), uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), blobs: bytelru.New[Hash](blobCacheSize)}
	if !opts.Time.IsZero() && opts.Time.Unix() > 0 {
		f.mtime = uint64(opts.Time.Unix())
		f.mtimeNs = uint32(opts.Time.Nanosecond())
	}
	return &dirNode{node: node{nodeInfo: nodeInfo{fsys: f, ino: rootIno}}, tree: opts.Root}, nil
}

// FSOptions returns the go-fuse options Mount uses.
func FSOptions(opts Options) *fs.Options {
	timeout := cacheTimeout
	name := opts.Name
	if name == "" {
		name = "lode"
	}
	logger := log.New(io.Discard, "", 0)
	if opts.Logf != nil {
		logger = log.New(logfWriter(opts.Logf), "", 0)
	}
	return &fs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		RootStableAttr:  &fs.StableAttr{Mode: syscall.S_IFDIR, Ino: rootIno},
		MountOptions: fuse.MountOptions{
			FsName: name,
			Name:   "lode",
			// default_permissions: the kernel checks the modes shown
			// itself and never sends ACCESS (which is also what keeps a
			// process that starts subprocesses inside its own mount
			// from deadlocking; see go-fuse's package doc).
			Options:    []string{"ro", "default_permissions"},
			AllowOther: opts.AllowOther,
			// As root, mount(2) directly (falling back to fusermount3).
			DirectMount:              os.Geteuid() == 0,
			DirectMountFlags:         syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV,
			MaxWrite:                 maxRead,
			MaxReadAhead:             maxRead,
			MaxBackground:            maxBackground,
			EnableSymlinkCaching:     true,
			ExplicitDataCacheControl: true,
			DisableXAttrs:            true,
			// Replies are served from memory (ReadResultData), which
			// go-fuse would first try to splice through a pipe, and
			// fail, on every read.
			DisableSplice: true,
			Debug:         opts.Debug,
			Logger:        logger,
		},
	}
}

// logfWriter turns a Logf into an io.Writer for log.Logger.
type logfWriter func(format string, args ...any)

func (w logfWriter) Write(p []byte) (int, error) {
	w("%s", trimNewline(p))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}

// Server is a mounted commit.
type Server struct {
	srv *fuse.Server
	dir string
}

// Mount mounts the commit opts describe read-only at dir and serves it
// until it is unmounted. It returns once the kernel serves the mount.
// Nothing of the tree is read before the first access.
//
// If the serving process dies without unmounting, the mount stays behind
// and every access fails with ENOTCONN ("transport endpoint is not
// connected") until it is removed: with Unmount, or by hand with
// "fusermount3 -u DIR" (as the user who mounted) or "umount DIR" (as
// root); "-z" / "umount -l" detaches it even while files are open.
func Mount(dir string, opts Options) (*Server, error) {
	root, err := NewRoot(opts)
	if err != nil {
		return nil, err
	}
	srv, err := fs.Mount(dir, root, FSOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if srv.KernelSettings().Flags64()&fuse.CAP_NO_OPEN_SUPPORT != 0 && !opts.withOpens {
		// Files open without a request from now on: each small file
		// read then costs the kernel one READ, or nothing if prefetched.
		root.(*dirNode).fsys.noOpen.Store(true)
	}
	s := &Server{srv: srv, dir: dir}
	if os.Geteuid() == 0 {
		s.raiseReadahead()
	}
	return s, nil
}

// Dir returns the mount point.
func (s *Server) Dir() string { return s.dir }

// Wait returns when the filesystem has been unmounted, by Unmount or by
// anyone else.
func (s *Server) Wait() { s.srv.Wait() }

// Unmount unmounts the filesystem and waits for the server to stop. It
// fails while files in the mount are open or a process has its working
// directory in it; the package function Unmount with UnmountOptions.Lazy
// can detach such a mount.
func (s *Server) Unmount() error {
	if err := s.srv.Unmount(); err != nil {
		return fmt.Errorf("unmount %s: %w", s.dir, err)
	}
	return nil
}

// raiseReadahead asks the kernel to read ahead up to maxRead bytes on
// this mount instead of its default 128 KiB, so that sequential reads
// arrive as 1 MiB requests. The kernel only lets the mount's
// backing-device setting raise it (FUSE's init reply can only lower it),
// and only root may write that; failure leaves the default.
func (s *Server) raiseReadahead() {
	var st syscall.Stat_t
	if err := syscall.Stat(s.dir, &st); err != nil {
		return
	}
	dev := uint64(st.Dev)
	name := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(dev), unix.Minor(dev))
	_ = os.WriteFile(name, []byte(fmt.Sprint(maxRead>>10)), 0)
}
