// Package local is a remote.Backend over a directory of the local file
// system (or a mounted network share): the simplest remote, and the one a
// git remote that is a local path uses by default.
//
// Layout: object "packs/ab.pack" is the file <dir>/packs/ab.pack; parent
// directories are created as needed and never removed. Files being written
// live in <dir>/.tmp/, which is not part of the namespace: List skips it
// and names whose first segment is ".tmp" are rejected.
//
// Put writes a temporary file, fsyncs it, renames it into place and fsyncs
// the parent directory, so an object appears whole or not at all even if
// the process or the machine dies; a crash can leave a stray file in
// .tmp/, never a partial object. Since the directory is also what a
// static HTTP server can publish (package remote/httpread), files are
// created with mode 0644 and directories with 0755, less the umask.
//
// Operating-system errors are translated: a missing file (or a path
// through a regular file) is remote.ErrNotExist, EACCES and EPERM are
// remote.ErrPermission, and EROFS is remote.ErrReadOnly.
package local
