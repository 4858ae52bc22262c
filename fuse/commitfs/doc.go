// Package commitfs shows one git commit as a read-only FUSE filesystem
// (go-fuse v2), the "mount" path of lode: `git lode mount REV DIR`.
//
// # Model
//
// The filesystem is the commit's root tree. Each git tree entry becomes a
// node:
//
//   - a tree (mode 040000) is a directory, read from Objects on its first
//     lookup or listing, never before: mounting reads nothing, so a tree of
//     any size mounts in the time the kernel takes (a few milliseconds);
//   - a blob (100644, 100755) that is a lode pointer (at most
//     pointer.MaxLen bytes, and pointer.Parse accepts it) is a regular file
//     of the pointer's size, whose bytes come from Files: every open file
//     handle opens its own RangeReader on its first read, so readahead
//     follows that handle's reads;
//   - any other blob is a regular file whose bytes are the blob, read whole
//     on a handle's first read (a blob small enough to be a pointer already
//     came with the lookup). Such blobs are small in practice; a large one
//     costs its size in memory per open handle. Content that starts like a
//     pointer but does not parse is logged and shown as it is in git;
//   - a symlink (120000) is a symlink whose target is the blob;
//   - a submodule (160000) is an empty directory.
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
// The package itself keeps only what a node needs: a directory's entries
// once read, and an open git file's bytes while it is open. Chunk caching
// and readahead of lode files belong to Files (transfer.Source).
//
// # Errors
//
// A failed read (missing or corrupt chunk, remote down, a reader returning
// fewer bytes than asked before the end of the file) returns EIO and is
// logged through Options.Logf with the path and offset; a wrong byte is
// never returned. A request the caller interrupted returns EINTR and is not
// logged. Missing names are ENOENT. The mount is read-only ("ro"), so the
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
// Server.Unmount unmounts (it fails while files are open). If the serving
// process is killed, the mount stays until removed: what the kernel has
// cached (names, attributes, pages) is still served, anything else fails
// with ENOTCONN. Unmount(dir) removes it: umount(2) (as root), else
// "fusermount3 -u", else a lazy unmount. By hand: "fusermount3 -u DIR", or
// as root "umount DIR"; "fusermount3 -uz DIR" or "umount -l DIR" when busy.
//
// # Interfaces
//
// The assertions below list the go-fuse interfaces each node and handle
// implements. Deliberately not implemented:
//
//   - every write operation (Setattr, Write, Create, Mkdir, Mknod, Link,
//     Symlink, Unlink, Rmdir, Rename, Setxattr, Removexattr, Allocate,
//     CopyFileRange, Fsync, Flush): the mount is read-only and the kernel
//     rejects them first; go-fuse's defaults answer ENOTSUP/ENOSYS;
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
	_ fs.NodeGetattrer = (*blobNode)(nil)
	_ fs.NodeStatfser  = (*blobNode)(nil)

	_ fs.FileReader = (*blobHandle)(nil)
)

// Files that lode pointers name.
var (
	_ fs.InodeEmbedder = (*lodeNode)(nil)
	_ fs.NodeOpener    = (*lodeNode)(nil)
	_ fs.NodeGetattrer = (*lodeNode)(nil)
	_ fs.NodeStatfser  = (*lodeNode)(nil)

	_ fs.FileReader   = (*lodeHandle)(nil)
	_ fs.FileReleaser = (*lodeHandle)(nil)
)

// Files whose blob is a damaged lode pointer: every open fails.
var (
	_ fs.InodeEmbedder = (*damagedNode)(nil)
	_ fs.NodeOpener    = (*damagedNode)(nil)
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
