// Package transfer moves files between the local store (package
// cas/store) and a lode remote (package cas/remotestore).
//
// Push uploads what the given files need and the remote lacks: the chunks,
// then the manifests, as remotestore.Upload orders them, so that a file
// the remote has in its merged index is whole there. It first checks that
// every file is whole in the local store, so it sends nothing for a push
// that could not complete. With Options.Repair it also reads back what
// the remote claims to have for these files and uploads again what no
// copy there holds intact.
//
// Fetch downloads what the local store lacks of the given files: their
// chunk lists (checked against their pointers), then the missing chunks
// with coalesced ranged reads across files. Every object is checked before
// it is stored, and a file's manifest is stored last, so a file whose
// manifest is local is whole. With Options.VerifyLocal it reads back what
// the local store already has of those files first, and drops and fetches
// again any damaged copy.
package transfer
