// Package midx reads and writes multi-pack indexes (format LODEMIDX v1):
// one sorted table of the records of many packs, so that finding an
// object costs one fanout read and one binary search in one file, however
// many packs a store has, instead of a search in every pack's index.
//
// # Format
//
// All integers are big-endian:
//
//	midx     = header pack*packCount fanout record*recordCount checksum
//	header   = "LODEMIDX" version:u32=1 packCount:u32 recordCount:u32 zero:u32      (24 bytes)
//	pack     = id:[32] size:u64                                                     (40 bytes)
//	fanout   = count:u32 * 256                                                      (1024 bytes)
//	record   = id:[32] pack:u32 offset:u64 rawLen:u32 storedLen:u32 kind:u8 method:u8 zero:u16   (56 bytes)
//	checksum = BLAKE3-256 of every byte before it                                   (32 bytes)
//
// A file of P packs and N records is exactly 24 + 40P + 1024 + 56N + 32
// bytes. The checksum is the file's id, as a pack index's checksum is its
// pack's.
//
// The pack table lists each pack once, by its id (the checksum of its pack
// index, see cas/pack) and its size, sorted by id. A record's pack field is
// a row of that table (a pack number, 0 to P-1).
//
// Fanout entry c is the number of records whose object id's first byte is
// at most c; the entries never decrease and the last is N. The records of
// ids starting with byte c are therefore records fanout[c-1] (0 for c = 0)
// to fanout[c]-1.
//
// A record is one copy of one object, with the same fields as the record
// of that copy in its pack's index: where its entry header starts in the
// pack (offset), its raw and stored lengths, kind and compression method.
// Records are sorted strictly by their first 44 bytes, that is by object
// id, then pack number, then offset; since the pack table is sorted by id,
// the copies of one object are adjacent and ordered by pack id. An object
// stored in several packs (two writers at once) has a record for each copy: a reader that finds one
// copy damaged tries the next.
//
// # Invariants
//
// Open refuses a file unless: its size is exactly what its counts make;
// the version is 1 and reserved bytes are zero; packs are sorted by id
// without duplicates and every size is at least a pack header's (16
// bytes) and at most 2^63-1; the fanout
// never decreases and ends at N; every record lies in the fanout range of
// its first byte, follows the previous one in the order above, names a
// pack of the table, starts after that pack's header and ends inside it,
// and keeps the bounds every pack entry keeps (pack.Entry.Check). Open
// takes one pass over the file and allocates a fixed amount (a copy of the
// fanout table), whatever the file holds; lookups after it can neither
// read out of bounds nor loop. Verify recomputes the checksum.
//
// So a multi-pack index read from anywhere (a cache on disk, a remote)
// cannot make a reader allocate more than the file's size, or fetch or
// decode more than its objects' bounds allow. It is still only an index:
// what it names is checked again where it is read (the entry header in the
// pack must agree with the record, the object must hash to its id).
//
// # Writing
//
// Write merges the records of packs, each given as its pack index's
// records in order (a *pack.Index, or any Records); Rewrite carries over
// the records of an existing index, leaving out the packs it is told to
// drop, and merges those of new packs into them. Both stream: memory is
// the pack table plus a fixed state per pack (a cursor and its current
// record), not a function of the number of records. Neither succeeds in
// writing a file Open would refuse. Like packs and pack indexes, a
// multi-pack index is immutable once published (write-temp, fsync,
// rename); a new one replaces it.
package midx
