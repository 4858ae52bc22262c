// Package cas is lode's content-addressed storage model.
//
// Terms:
//
//   - A chunk is a piece of a file cut by the content-defined chunker
//     (package cas/chunker). Its ID is the BLAKE3-256 of its raw bytes.
//   - A file's oid is the BLAKE3-256 of its whole content, so that b3sum on
//     a checked-out file prints the oid in its pointer.
//   - A manifest lists, in order, the chunks that make up one file (package
//     cas/manifest). Its ID is derived from the file's oid (ManifestID), so
//     a pointer leads straight to its manifest.
//   - Objects (chunks and manifests) live in packs (package cas/pack), which
//     are immutable once published; the local store (package cas/store) is a
//     directory of packs and their sorted indexes.
//
// This package holds only what every layer shares: the ID type, object
// kinds, the sentinel errors callers branch on, and the small interfaces
// consumers define. It has no I/O of its own.
package cas
