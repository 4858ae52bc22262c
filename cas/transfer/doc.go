// Package transfer moves objects between the local store and a remote.
//
// Remote layout (format v1; see docs/FORMAT.md), under the back end's root:
//
//	packs/<id>.pack       chunks, in the local pack format
//	packs/<id>.idx        its sorted index; published after the pack
//	manifests/<oid>       a located manifest (package cas/manifest):
//	                      the file's chunk list with each chunk's pack,
//	                      offset and length; published after the packs
//	                      it names
//
// Because of that order a reader never meets a name that points at
// nothing: a manifest exists only once its packs and their indexes do,
// and an index only once its pack does. An interrupted push leaves at
// most unindexed packs (never read) and indexed packs without manifests
// (reused by the next push, whose index sync sees them), so running it
// again uploads only what is still missing.
//
// Push uploads the chunks that the given files need and the remote lacks
// (it knows what the remote has from a local cache of the remote's pack
// indexes, refreshed by listing packs/), then the files' located
// manifests. Fetch downloads, for files the local store cannot
// reassemble, the located manifest and then only the missing chunks, with
// ranged reads coalesced per pack; every chunk is decompressed and checked
// against its id before it is stored locally, so nothing wrong is ever
// kept or served.
package transfer
