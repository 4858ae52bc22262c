package compress

import "sync/atomic"

// Sampling parameters of FileCompressor; tuning, not format.
const (
	sampleEvery = 16 // every 16th chunk is compressed both ways
	// s2Wins is how much smaller (as a fraction of the Huffman size) S2
	// must make the sampled chunks for a file to use it: it costs a little
	// more than Huffman coding to write, and pays only on data with
	// repeats (text, logs, JSON), where it saves far more.
	s2WinsNum, s2WinsDen = 4, 5
)

// FileCompressor compresses the chunks of one file at ingest (git add),
// where speed decides: most data that compresses at all (numbers in CSV,
// float tensors) gains as much from Huffman coding alone as from any LZ
// method; text with repeats (logs, JSON, text columns) gains far more from
// LZ. zstd would give the best ratio there, but at about 120 MB/s per core
// it made ingest of text slower than Git LFS (which does not compress);
// S2 runs three times as fast for about 70% of zstd's saving, and pushes
// recompress S2 chunks with zstd (Codec.Recompress), so the remote and
// what travels get zstd's ratio. So every 16th chunk is compressed both
// ways (Huffman and S2), and the file's other chunks use S2 only while the
// samples show it saving at least 20% over Huffman coding, Huffman
// otherwise, and nothing at all while neither pays (random or already
// compressed data, e.g. images, parquet).
//
// It is safe for concurrent use; which method a chunk gets may depend on
// the order in which concurrent calls see the samples, never its content
// or id.
type FileCompressor struct {
	c *Codec
	// Sampled input bytes, and output sizes of each method (the input
	// size when a method did not pay).
	rawBytes, huffBytes, s2Bytes atomic.Int64
}

// ForFile returns a FileCompressor for one file's chunks.
func (c *Codec) ForFile() *FileCompressor { return &FileCompressor{c: c} }

// mode is the method the samples so far choose for unsampled chunks.
func (f *FileCompressor) mode() Method {
	r, h, z := f.rawBytes.Load(), f.huffBytes.Load(), f.s2Bytes.Load()
	switch {
	case r == 0:
		return Huffman
	case z*s2WinsDen < h*s2WinsNum:
		return S2
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
	case S2:
		if out, ok := f.c.s2(dst, raw); ok {
			return out, S2
		}
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
	zOut, zOK := f.c.s2(dst, raw)
	zn := len(raw)
	if zOK {
		zn = len(zOut)
	}
	f.rawBytes.Add(int64(len(raw)))
	f.huffBytes.Add(int64(hn))
	f.s2Bytes.Add(int64(zn))
	switch {
	case zOK && zn <= hn:
		return zOut, S2
	case hOK:
		return append(dst[:0], hOut...), Huffman
	}
	return raw, None
}
