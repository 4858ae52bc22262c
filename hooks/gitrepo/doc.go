// Package gitrepo reads a git repository's objects without a checkout. It is
// the one package in lode that reads git objects; it does so through go-git
// (github.com/go-git/go-git/v5) and never runs the git binary.
//
// Terms:
//
//   - The git directory of a working tree is where its HEAD and index live
//     (.git, or .git/worktrees/NAME for a linked worktree). The common
//     directory is the one all worktrees share: objects, refs, config, and
//     lode's own store in .git/lode. For a bare repository both are the
//     repository directory itself.
//   - A revision is what a user types (HEAD, main, v1.0, a full or
//     abbreviated hash, HEAD~2, v1.0^{commit}); Resolve turns it into a
//     commit hash.
//   - A pointer blob is a blob whose content starts with pointer.Prefix.
//     A valid one parses; one that claims to be a pointer but does not parse
//     (malformed, or a newer version) is still reported, with Entry.Err set,
//     so that verify and pre-push can name it.
//
// Walking a tree decides by size first: a blob larger than pointer.MaxLen is
// never a pointer, and its size comes from the object header (the loose
// object's zlib header, or the pack entry header; for a deltified pack entry,
// the delta's header, which means inflating the delta but never rebuilding
// the blob). Only blobs of at most pointer.MaxLen bytes are read.
//
// ReachablePointers follows git's rule for "rev-list --objects INCLUDE --not
// EXCLUDE": a tree or blob that is also in the tree of an excluded commit
// adjacent to the included range is taken as present on the other side and
// not reported. Trees are visited once, by hash, so a long history whose
// commits change few files costs about one tree walk plus the changed
// subtrees.
//
// Git objects are immutable, so results for a commit hash never change.
// References are read at each Resolve, but the object store is read as a
// snapshot: the packs and loose objects present at the first lookup. A
// commit made after that is not found (Resolve reports ErrUnknownRevision),
// so long-lived users reopen the Repo. Pack files stay open until Close.
//
// Only SHA-1 repositories are supported (go-git v5). Shallow clones work:
// the walk stops at shallow commits. Objects borrowed through
// objects/info/alternates are found by the slower full read.
package gitrepo
