// Package pack reads and writes pack files and their indexes (format v1).
//
// A pack is an append-only sequence of objects (chunks and manifests), each
// behind a fixed header, so that a pack alone is enough to rebuild its
// index:
//
//	pack   = header entry*
//	header = "LODEPACK" version:u32=1 flags:u32=0                  (16 bytes)
//	entry  = id:[32] kind:u8 method:u8 zero:u16 rawLen:u32 storedLen:u32 stored:[storedLen]
//
// All integers are big-endian. The entry header is 44 bytes; stored bytes
// follow it directly. kind is a cas.Kind, method a compress.Method.
//
// An index lists a pack's entries sorted by id, so that finding an object is
// a binary search and never a scan:
//
//	index   = "LODEINDX" version:u32=1 count:u32 record*count trailer
//	record  = id:[32] offset:u64 rawLen:u32 storedLen:u32 kind:u8 method:u8 zero:u16   (52 bytes)
//	trailer = packSize:u64 checksum:[32]
//
// offset is where the entry's header starts in the pack. checksum is the
// BLAKE3-256 of every index byte before it, and it is also the pack's ID:
// packs are named <id>.pack and <id>.idx. Naming by the index rather than by
// the pack bytes keeps writing to one hashing pass per object: every stored
// object is verified against its own id when read, so the pack needs no
// whole-file hash of its own.
//
// Packs and indexes are immutable once published. Two objects with the same
// id may appear in different packs (two writers at once); readers may use
// either.
package pack
