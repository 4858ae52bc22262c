// Package filer turns whole files into stored objects and back: Clean cuts
// a stream into chunks, stores the new ones and returns the file's pointer;
// Smudge reassembles a file from its manifest and chunks, verifying each
// chunk and then the whole file before reporting success.
//
// Both run a bounded pipeline. Clean: one goroutine cuts chunks and hashes
// the whole file, workers hash each chunk and compress the ones the store
// lacks, and the calling goroutine adds them to the sink in file order and
// builds the manifest. Smudge: workers fetch and verify chunks ahead of the
// writer, which writes them in order. Memory is bounded by the number of
// chunks in flight, never by the file size (apart from the manifest, 36
// bytes per 64 KiB chunk).
package filer
