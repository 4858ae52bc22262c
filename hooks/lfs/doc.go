// Package lfs reads what Git LFS leaves in a repository: its pointers in
// git, and its local object store. lode reads them to come over from Git
// LFS (git lode migrate) and to check out old history that still holds
// LFS pointers (smudge, ls-files, the mount). It never writes either.
//
// A Git LFS pointer (https://git-lfs.github.com/spec/v1) is three lines,
// each ending in "\n":
//
//	version https://git-lfs.github.com/spec/v1
//	oid sha256:<64 lowercase hex digits>
//	size <decimal byte count>
//
// Pointers are input from elsewhere, so Parse is strict and bounded: at
// most MaxLen bytes are looked at; the version must be the spec's URL (or
// its pre-release alias); the keys must be exactly version, oid, size in
// that order; no "\r", no leading zeros, no sign, a size of at most
// pointer.MaxFileSize. Pointers with extension lines (ext-N-name), which
// need programs lode does not run to rebuild the file, and pointers with
// keys of later spec versions are refused as ErrUnsupported. Content that
// does not start with a version line is ErrNotPointer.
//
// Git LFS keeps each object as a whole file named by its oid:
// <lfs dir>/objects/<oid[0:2]>/<oid[2:4]>/<oid>, where the lfs dir is
// <git common dir>/lfs unless lfs.storage says otherwise. Nothing from
// there is trusted: every byte handed out is hashed with SHA-256 and the
// size counted, and a mismatch is an error wrapping cas.ErrCorrupt; a
// reader of a whole file learns so at its end (and must discard what it
// got), Verify checks a file before anything of it is used.
package lfs
