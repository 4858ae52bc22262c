// Package commitfs shows one git commit as a read-only FUSE filesystem
// (go-fuse v2), the "mount" path of lode: `git lode mount REV DIR`.
//
// # Model
//
// The filesystem is the commit's root tree, shown as git's checkout would
// write it. Each git tree entry becomes a node:
//
//   - a tree (mode 040000) is a directory, read from Objects on its first
//     lookup or listing, never before: mounting reads nothing, so a tree of
//     any size mounts in the time the kernel takes (a few milliseconds).
//     A lookup reads the head of its entry's blob (BlobHead: the size, and
//     the content when small enough to be a pointer); the first listing
//     reads the heads of all the directory's files and symlinks in one
//     pass, so that the lookups that follow it (READDIRPLUS, stat, open)
//     read nothing;
//   - a blob (100644, 100755) that is a lode pointer (at most
//     pointer.MaxLen bytes, and pointer.Parse accepts it) is a regular file
//     of the pointer's size, whose bytes come from Files: every reader (an
//     open file handle, or, with opens without a request, a calling
//     thread; see Caching) opens its own RangeReader on its first read, so
//     readahead follows its reads;
//   - any other blob is a regular file whose bytes are the blob, read whole
//     on a handle's first read (a blob small enough to be a pointer already
//     came with the lookup), or without handles kept in a 64 MiB LRU of
//     blobs. Such blobs are small in practice; a large one costs its size
//     in memory per open handle, and one larger than 64 MiB is read from
//     git again for every read request when there are no handles;
//   - a blob of at most pointer.MaxLen bytes that starts like a pointer
//     (pointer.MightBe) but that pointer.Parse rejects for another reason
//     than ErrNotPointer (malformed, or a version this build cannot read)
//     is a regular file of the blob's size whose every open, or every
//     read, fails with EIO, logged with the path and the parse error:
//     smudge refuses such a blob, so checkout fails for it too;
//   - with Options.Foreign set, a blob of at most pointer.MaxLen bytes that
//     is not a lode pointer but another tool's (Foreign.Parse accepts it:
//     a Git LFS pointer of history from before a move to lode) is a
//     regular file of that pointer's size, read like a lode file through
//     Foreign.Open, which checks the whole content against the pointer
//     before any byte of it is read; a failed open or read (the object
//     damaged, or not there) is EIO, logged with the path, the tool and
//     its oid. Listings and lookups read only the blob;
//   - a symlink (120000) is a symlink whose target is the blob;
//   - a submodule (160000) is an empty directory.
//
// Entries that git refuses to check out are not shown at all (absent from
// listings, ENOENT to lookups), and each is logged once, when its
// directory is read: a name the tree cannot hold ("", ".", "..", one with
// "/" or NUL, a duplicate), and the names git's verify_path refuses, with
// both its NTFS and HFS+ protections on, whatever the platform (see
// gitRefuses): ".git" in any case and in the spellings NTFS and HFS+ take
// for it (".git.", ".git ", "git~1", ".g\u200cit", ...) at any depth, and
// symlinks named ".gitmodules" in the same spellings or below a directory
// of that name. A program reading the mount (git status run inside it)
// would otherwise take a .git directory from the commit for a repository,
// and run what its config names. Symlinks named ".gitattributes",
// ".gitignore" or ".mailmap" are hidden too: git checks them out but never
// follows them, and programs reading the mount would.
//
// Directories and executables show mode 0755, other files 0644, symlinks
// 0777, as a checkout would; the owner is whoever mounted and every time is
// Options.Time. Directories report one link ("unknown"), so find does not
// rely on link counts.
//
// Inode numbers are stable: st_ino and go-fuse's generation are 128 bits of
// SHA-256 of the node's path (see identity). The same path gets the same
// numbers in every lookup and every mount; the same tree at two paths gets
// two nodes, as it must (they are different directories to the kernel).
//
// # Caching
//
// A commit never changes, so the kernel may cache everything for as long as
// it likes: entry, attribute and negative-lookup timeouts are a year;
// files open with FOPEN_KEEP_CACHE, so pages read once are served by the
// kernel to every later open without a request; directory listings use
// FOPEN_CACHE_DIR; symlink targets are cached (EnableSymlinkCaching). The
// mount asks for 1 MiB reads (max_read, capped by the kernel's fuse
// max_pages_limit) and, as root, raises the mount's readahead from the
// kernel's default 128 KiB to 1 MiB (the FUSE init reply can only lower
// it), so a sequential read arrives as 1 MiB requests, up to 64 in flight.
// Replies carry their data in the reply itself (splice is off: every read
// is served from memory, and go-fuse's attempt to splice such a reply
// costs system calls on every read for nothing).
//
// Opening a file costs no request where the kernel allows it
// (FUSE_NO_OPEN_SUPPORT, Linux 4.19 and later): the first OPEN is answered
// ENOSYS, after which the kernel opens files by itself, with
// FOPEN_KEEP_CACHE, and sends no OPEN or RELEASE; the first FLUSH is
// answered ENOSYS too, after which close(2) sends none. Reading a small
// file then costs one READ request, or none. Reads come without a handle;
// a lode file keeps a reader for each of the last maxStreams threads that
// read it. On other kernels files open with a handle, FOPEN_KEEP_CACHE and
// FOPEN_NOFLUSH (close does not wait for a FLUSH).
//
// The package itself keeps only what a node needs: a directory's entries
// and their blob heads (size, pointer, or content of a blob small enough
// to be one) once read, an open git file's bytes while it is open, and the
// LRU of git blobs for reads without a handle. Chunk caching and readahead
// of lode files belong to Files (rangeread.Source). When the files of a
// directory are read in order (a file's first read comes right after the
// previous file's, within a few entries), the small lode files (up to
// 1 MiB) that follow in listing order are offered to Files' Prefetch (see
// Prefetcher), up to 2 MiB ahead of the reader, in batches of 256 KiB that
// are read in parallel; each file Prefetch reads whole (checked like any
// read) is stored in the kernel's page cache (FUSE_NOTIFY_STORE), so that
// reading it costs no request at all. Random reads offer nothing. The page
// cache is the kernel's to reclaim; a file already being read is left
// alone.
//
// # Errors
//
// A failed read (missing or corrupt chunk, remote down, a reader returning
// fewer bytes than asked before the end of the file) returns EIO and is
// logged through Options.Logf with the path and offset; a wrong byte is
// never returned. Every read of a lode file, the opening of its reader
// included, runs under a context with Options.ReadTimeout (default 60 s)
// as its deadline: one that has not finished by then returns EIO, logged
// as a timeout with path and offset (Files must honour ctx; the kernel
// tries a failed read once more, so a read(2) can take twice as long). A
// request the caller interrupted returns EINTR and is not logged. Opening
// or reading a damaged pointer returns EIO (see Model). Missing names, and
// the names git refuses, are ENOENT. The mount is read-only ("ro"), so the
// kernel answers EROFS to every write, create, rename, chmod or truncate
// before it reaches the server; Open rejects write modes again with EROFS.
// Failed object reads are not remembered: the next access tries again.
//
// # Deadlocks
//
// A process that serves a mount must take care when it touches that mount
// itself (tests do): see the go-fuse package doc. The mount uses
// default_permissions, so the kernel checks permissions from the cached
// attributes and never sends ACCESS, which the chdir of a subprocess
// started with its working directory in the mount could otherwise block on.
//
// # Unmounting
//
// Server.Unmount unmounts (it fails while files are open). The package
// function Unmount(dir, opts) unmounts any mount by its directory, also
// one whose serving process was killed (the mount stays until removed:
// what the kernel has cached, names, attributes, pages, is still served,
// anything else fails with ENOTCONN): umount(2) as root, else
// "fusermount3 -u". A mount in use (a file in it open, a read waiting in
// the server, a process with its working directory inside) is left as it
// is, and the error wraps ErrBusy; UnmountOptions.Lazy detaches it anyway:
// it leaves the directory tree at once, open files keep working, and the
// kernel lets the filesystem go when the last of them is closed. By hand:
// "fusermount3 -u DIR", or as root "umount DIR"; "fusermount3 -uz DIR" or
// "umount -l DIR" to detach.
//
// # Interfaces
//
// The assertions below list the go-fuse interfaces each node and handle
// implements. Deliberately not implemented:
//
//   - every write operation (Setattr, Write, Create, Mkdir, Mknod, Link,
//     Symlink, Unlink, Rmdir, Rename, Setxattr, Removexattr, Allocate,
//     CopyFileRange, Fsync): the mount is read-only and the kernel
//     rejects them first; go-fuse's defaults answer ENOTSUP/ENOSYS;
//   - Flush is implemented only to answer ENOSYS (see Caching);
//   - Access: default_permissions makes the kernel decide;
//   - Getxattr, Listxattr: git keeps no extended attributes; the mount
//     disables them, so the kernel stops asking after the first ENOSYS;
//   - Readdir: directories implement OpendirHandle, which supersedes it and
//     lets listings be cached;
//   - Lseek (SEEK_DATA/SEEK_HOLE), Ioctl, locks: not meaningful here;
//     the kernel's defaults apply;
//   - OnForget: nodes hold nothing that needs releasing beyond memory;
//   - LookupNode/LookupParent (NFS export): not supported.
package commitfs

import "github.com/hanwen/go-fuse/v2/fs"

// Directories.
var (
	_ fs.InodeEmbedder      = (*dirNode)(nil)
	_ fs.NodeLookuper       = (*dirNode)(nil)
	_ fs.NodeOpendirHandler = (*dirNode)(nil)
	_ fs.NodeGetattrer      = (*dirNode)(nil)
	_ fs.NodeStatfser       = (*dirNode)(nil)

	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileReleasedirer = (*dirHandle)(nil)
)

// Files whose content is their git blob.
var (
	_ fs.InodeEmbedder = (*blobNode)(nil)
	_ fs.NodeOpener    = (*blobNode)(nil)
	_ fs.NodeReader    = (*blobNode)(nil)
	_ fs.NodeFlusher   = (*blobNode)(nil)
	_ fs.NodeGetattrer = (*blobNode)(nil)
	_ fs.NodeStatfser  = (*blobNode)(nil)

	_ fs.FileReader = (*blobHandle)(nil) // through blobNode.Read
)

// Files that lode pointers name.
var (
	_ fs.InodeEmbedder = (*lodeNode)(nil)
	_ fs.NodeOpener    = (*lodeNode)(nil)
	_ fs.NodeReader    = (*lodeNode)(nil)
	_ fs.NodeFlusher   = (*lodeNode)(nil)
	_ fs.NodeGetattrer = (*lodeNode)(nil)
	_ fs.NodeStatfser  = (*lodeNode)(nil)

	_ fs.FileReader   = (*lodeHandle)(nil) // through lodeNode.Read
	_ fs.FileReleaser = (*lodeHandle)(nil)
)

// Files whose blob is a damaged lode pointer: every open or read fails.
var (
	_ fs.InodeEmbedder = (*damagedNode)(nil)
	_ fs.NodeOpener    = (*damagedNode)(nil)
	_ fs.NodeReader    = (*damagedNode)(nil)
	_ fs.NodeFlusher   = (*damagedNode)(nil)
	_ fs.NodeGetattrer = (*damagedNode)(nil)
	_ fs.NodeStatfser  = (*damagedNode)(nil)
)

// Symbolic links.
var (
	_ fs.InodeEmbedder  = (*linkNode)(nil)
	_ fs.NodeReadlinker = (*linkNode)(nil)
	_ fs.NodeGetattrer  = (*linkNode)(nil)
	_ fs.NodeStatfser   = (*linkNode)(nil)
)
