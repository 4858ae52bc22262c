package compress

import "sync/atomic"

// Sampling parameters of FileCompressor; tuning, not format.
const (
	sampleEvery = 16 // every 16th chunk is compressed both ways
	// zstdWins is how much smaller (as a fraction of the Huffman size)
	// zstd must make the sampled chunks for a file to use it: it costs
	// about five times the CPU of Huffman coding, both to write and to
	// read, so it has to buy a real saving.
	zstdWinsNum, zstdWinsDen = 4, 5
)

// FileCompressor compresses the chunks of one file. Most data that
// compresses at all (numbers in CSV, float tensors) gains nearly as much
// from Huffman coding alone as from zstd, which costs about five times the
// CPU on both the clean and the smudge path; text with long repeats (logs,
// JSON) gains far more from zstd. So every 16th chunk is compressed both
// ways, and the file's other chunks use zstd only while the samples show it
// saving at least 20% over Huffman coding, and are stored raw without an
// attempt while the samples show that neither method pays (random or
// already compressed data).
//
// It is safe for concurrent use; which method a chunk gets may depend on
// the order in which concurrent calls see the samples, never its content
// or id.
type FileCompressor struct {
	c *Codec
	// Sampled input bytes, and output sizes of each method (the input
	// size when a method did not pay).
	rawBytes, huffBytes, zstdBytes atomic.Int64
}

// ForFile returns a FileCompressor for one file's chunks.
func (c *Codec) ForFile() *FileCompressor { return &FileCompressor{c: c} }

// mode is the method the samples so far choose for unsampled chunks.
func (f *FileCompressor) mode() Method {
	r, h, z := f.rawBytes.Load(), f.huffBytes.Load(), f.zstdBytes.Load()
	switch {
	case r == 0:
		return Huffman
	case z*zstdWinsDen < h*zstdWinsNum:
		return Zstd
	case h >= r && z >= r:
		// Nothing paid in the samples (already compressed or random
		// data): do not even try.
		return None
	}
	return Huffman
}

// Compress returns the bytes to store for raw, the seq-th chunk of the
// file, and their method: raw itself with None, or compressed bytes
// appended to dst[:0].
func (f *FileCompressor) Compress(dst, raw []byte, seq int) ([]byte, Method) {
	if len(raw) < minLen {
		return raw, None
	}
	if seq%sampleEvery == 0 {
		return f.sample(dst, raw)
	}
	switch f.mode() {
	case Zstd:
		return f.c.Compress(dst, raw)
	case Huffman:
		if out, ok := f.c.huffman(dst, raw); ok {
			return out, Huffman
		}
	}
	return raw, None
}

// sample compresses raw both ways, records the sizes, and keeps the
// smaller.
func (f *FileCompressor) sample(dst, raw []byte) ([]byte, Method) {
	hOut, hOK := f.c.huffman(nil, raw)
	hn := len(raw)
	if hOK {
		hn = len(hOut)
	}
	zOut, zm := f.c.Compress(dst, raw)
	zn := len(raw)
	if zm == Zstd {
		zn = len(zOut)
	}
	f.rawBytes.Add(int64(len(raw)))
	f.huffBytes.Add(int64(hn))
	f.zstdBytes.Add(int64(zn))
	switch {
	case zm == Zstd && zn <= hn:
		return zOut, Zstd
	case hOK:
		return append(dst[:0], hOut...), Huffman
	}
	return raw, None
}
