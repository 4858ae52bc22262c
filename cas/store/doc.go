// Package store is lode's local object store: a directory (by default
// .git/lode inside a repository) holding packs and their indexes.
//
//	<dir>/packs/<packid>.pack   objects, see package cas/pack
//	<dir>/packs/<packid>.idx    sorted index; its checksum is <packid>
//	<dir>/tmp/                  files being written; never read
//
// Writers (a Packer per writing process) append new objects to a private
// temporary pack and publish it by write-temp, fsync, rename: the pack
// first, then its index, then an fsync of the packs directory. Readers only
// discover packs through their indexes, so a reader never sees a pack that
// is still being written, a process killed at any moment leaves at worst an
// unreferenced temporary file or an unindexed pack (both harmless, and
// reported by Verify), and any number of processes may write at once
// without a lock. Two writers may store the same object twice; both copies
// are valid.
//
// Every object read is decompressed and checked before it is returned: a
// chunk must hash to its id, a manifest too (format 2; one of format 1
// must pass its own checksum and describe the file its id was derived
// from). A damaged copy is never returned; if another pack holds a good
// copy, that one is used. DropCorrupt removes damaged copies (rewriting
// their packs), Tidy what killed writers left behind.
package store
