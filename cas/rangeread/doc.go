// Package rangeread reads byte ranges of lode files lazily: the reading
// side of `git lode mount` (and of anything else that serves files without
// checking them out).
//
// A Source takes each chunk from wherever it is cheapest: an in-memory
// LRU of decoded chunks, the local store, a bounded on-disk chunk cache
// (ChunkCache), or the remote (package cas/remotestore, whose Read checks
// every chunk). A file's chunk list is checked against its pointer before
// anything is read (see Source.Open), so every byte returned is bound to
// what git holds. Sequential readers (Reader) trigger readahead that
// doubles up to 64 MiB. Files about to be read (the next small files of a
// directory read in order) can be prefetched into the memory cache in the
// background (Source.Prefetch): from the remote, many small files cost one
// coalesced request instead of one each.
package rangeread
