// Package cas is lode's content-addressed storage model.
//
// Terms:
//
//   - A chunk is a piece of a file cut by the content-defined chunker
//     (package cas/chunker). Its ID is the BLAKE3-256 of its raw bytes.
//   - A file's oid is the BLAKE3-256 of its whole content, so that b3sum on
//     a checked-out file prints the oid in its pointer.
//   - A manifest lists, in order, the chunks that make up a file of more
//     than one chunk (package cas/manifest). Its ID is the hash of its
//     bytes, and the file's pointer carries it, so that a chunk list from
//     anywhere is checked against git (a file of one chunk has none: its
//     chunk's id is the oid). Old manifests are stored under an ID derived
//     from the oid (ManifestID).
//   - Objects (chunks and manifests) live in packs (package cas/pack), which
//     are immutable once published; the local store (package cas/store) is a
//     directory of packs and their sorted indexes.
//
// This package holds only what every layer shares: the ID type, object
// kinds, the sentinel errors callers branch on, and the small interfaces
// consumers define. It has no I/O of its own.
package cas
