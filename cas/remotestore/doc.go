// Package remotestore is the lode remote seen as a store of objects: the
// one owner of the remote layout and of every read from a remote.
//
// # Layout (version 2; docs/FORMAT.md)
//
//	packs/<id>.pack   objects in the pack format (package cas/pack): the
//	                  chunks of files, and the manifests of files of more
//	                  than one chunk
//	packs/<id>.idx    its index; <id> is the index's checksum
//
// A pack is uploaded before its index, and a pack holding a manifest is
// uploaded only after the indexes of every pack holding that manifest's
// chunks are published (or it holds them itself). So a reader that finds
// an object through an index finds the pack behind it, and a reader that
// finds a manifest finds every chunk it lists. An interrupted upload
// leaves at most packs without an index, which no reader uses.
//
// Remotes of layout 1 also have manifests/<oid>, a located manifest per
// file (package cas/manifest); it is read only for version 1 pointers
// whose manifest is not in any pack.
//
// # Trust
//
// Nothing read from the remote is trusted. An index is used only if its
// checksum is its name and the pack it describes is listed with the size
// the index gives; copies of indexes kept locally (the cache) are checked
// the same way before every use. Every record's lengths are bounded by
// the format (package cas/pack). Every object read is checked against the
// index record that located it, decompressed once into a buffer no larger
// than its record allows, and checked against its id (a chunk must hash
// to it; a manifest must hash to the id the pointer names). A copy that
// fails any check is skipped, and the next copy (another pack holding the
// same object) is tried.
//
// # Reading
//
// Read is the one call that reads objects: it looks each up in the merged
// index, coalesces objects that lie close together in one pack into one
// ranged read (across files, or only between neighbours in the order
// asked for, for a reader that streams one file), keeps the bytes in
// flight under a memory bound, verifies and decodes each object once, and
// hands it to the caller.
package remotestore
