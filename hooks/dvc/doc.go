// Package dvc reads what DVC leaves in a repository, so that `git lode
// migrate import --from-dvc` can make its files lode files: .dvc files,
// the .dir listings of tracked directories, and the local cache. It never
// writes any of them.
//
// A .dvc file is YAML; lode reads its outs:
//
//	outs:
//	- md5: 3863d0e317dee0a55c4e59d2ec0eef33
//	  size: 14445097
//	  hash: md5          (DVC 3; without it the md5 is DVC 2's, below)
//	  path: data.csv     (relative to the .dvc file's directory)
//	  isexec: true       (optional)
//
// A directory's md5 ends in ".dir" and names a listing in the cache: a
// JSON array of {"md5": ..., "relpath": ...} (relpath slash-separated,
// relative to the directory). The cache keeps each object as a whole file
// named by its md5: <cache>/files/md5/<md5[0:2]>/<md5[2:]> (DVC 3), or
// <cache>/<md5[0:2]>/<md5[2:]> (DVC 2). DVC 2 hashed text files after
// turning CRLF into LF ("md5-dos2unix"); an out without "hash: md5" is
// accepted when either the bytes or the bytes with CRLF turned into LF
// have its md5.
//
// Nothing from there is trusted: paths must stay inside the repository
// (no "..", no absolute paths), sizes and counts are bounded, and every
// byte handed out is hashed, the mismatch found at its end being an error
// wrapping cas.ErrCorrupt.
package dvc
