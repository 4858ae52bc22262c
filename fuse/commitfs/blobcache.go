package commitfs

// blobCacheSize bounds the git blobs kept for reads that come without a
// handle (see filesys.noOpen), in a bytelru.Cache keyed by blob hash: a
// blob larger than this is read whole from git again for each read
// request.
const blobCacheSize = 64 << 20
