// Package chunker cuts byte streams into content-defined chunks: the
// chunking rule of lode's format v1.
//
// Cutting at positions chosen by the content, rather than every N bytes,
// means an insertion or deletion changes only the chunks around it: the
// cut points after it move with the bytes and the chunks there keep their
// ids, so a new version of a file shares almost all its chunks with the old
// one.
//
// # Format v1
//
// The chunk boundaries are part of the on-disk format: a store deduplicates
// only against chunks cut by the same rule. They never change; a golden
// test (testdata/boundaries_v1.txt) pins them. Another rule would be a new
// format version. The rule is:
//
// Gear table. gear[0..255] are 256 unsigned 64-bit integers: the first 2048
// bytes of the BLAKE3 extendable output (plain hash mode, no key) of the
// 18-byte ASCII string "lode gear table v1", read as consecutive
// little-endian uint64 values. `printf 'lode gear table v1' | b3sum --length
// 2048` prints them; gear[0] = 0xa7131dd75e023bb5, gear[255] =
// 0xd4b47288db5f7ce9. table.go holds them, written by gentable.go.
//
// Rolling hash. The state h is a uint64, 0 at the start of each chunk. For
// each byte b of the chunk, in order, h = (h << 1) + gear[b], modulo 2^64.
// After the L-th byte of a chunk, call the state h(L). Because each update
// shifts the earlier bytes one bit further out, h(L) depends only on the
// last 64 bytes (x[L-63..L]): h(L) = sum over j in 0..63 of gear[x[L-j]] << j.
//
// Cut test. Let mask(L) be the top 18 bits (0xffffc00000000000) when
// L < TargetSize and the top 13 bits (0xfff8000000000000) when
// L >= TargetSize. L is a cut point when h(L) & mask(L) == 0. The top bits
// are the ones that depend on all 64 bytes of the window; the low bit
// depends on only the last byte.
//
// Chunk length. Let R be the number of bytes from the start of the chunk to
// the end of the stream. If R <= MinSize (8 KiB), the chunk is the R bytes.
// Otherwise it is the smallest cut point L with MinSize <= L <= min(R,
// MaxSize), or min(R, MaxSize) (MaxSize = 128 KiB) when there is none. The
// next chunk starts right after it. So every chunk except the last of a
// stream is in [MinSize, MaxSize], the last is in [1, MaxSize], and an empty
// stream has no chunks.
//
// # Why these choices
//
// The two masks are normalized chunking (after FastCDC): before the target
// size a cut point is 32 times rarer (1 in 2^18 positions) than after it (1
// in 2^13), which gathers lengths just past TargetSize (64 KiB) and leaves
// almost none to be cut at MaxSize, where the cut point is not content
// defined and an edit's shift is not absorbed. Over 1 GiB of random bytes
// the mean chunk is 64.5 KiB with a standard deviation of 18.0 KiB
// (analytically 64.7 and 17.9); percentiles 1/10/50/90/99 are 10.4, 33.9,
// 67.7, 80.5, 97.7 KiB; 20% of chunks are shorter than TargetSize and 0.025%
// are cut at MaxSize. CSV-like text gives the same figures. With one mask
// of 16 bits (no normalization) the mean is 62 KiB, the deviation 40 KiB,
// and 15% of chunks are cut at MaxSize; in trials inserting 100 bytes at
// random places the 18/13 pair stored about 0.9 mean chunks per edit, the
// single mask 1.2.
//
// # Speed
//
// The first MinSize bytes of a chunk can never end it, and h(MinSize)
// depends only on bytes MinSize-63..MinSize, so Boundary skips hashing all
// but those: the boundaries are exactly those of hashing every byte. The
// inner loop is unrolled eight times and free of bounds checks (five
// instructions a byte). On one core of an AMD EPYC it runs at about 2.4
// GB/s over random data; a Chunker fed by a bytes.Reader at about 2.2 GB/s,
// with no allocation per chunk.
//
// # Streams
//
// Boundary applies the rule to a slice that holds the rest of a stream, or
// at least its next MaxSize bytes. Chunker does that over an io.Reader: it
// keeps a 1 MiB buffer, refills it whenever fewer than MaxSize unconsumed
// bytes remain and the reader has not reported io.EOF, and so cuts the same
// boundaries however the reader splits its reads.
package chunker
