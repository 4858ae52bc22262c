// Package migrate rewrites git history so that files held by another
// large-file tool become lode files: Git LFS pointers become lode pointers,
// and .gitattributes lines that send paths to Git LFS send them to lode.
//
// The rewrite is a stream: `git fast-export --no-data` (no blob content,
// only object ids) is read one command at a time by a Rewriter, which
// passes everything through to `git fast-import` except
//
//   - file changes (M lines) whose blob is a Git LFS pointer at an included
//     path: the Rewriter reads the pointer (at most lfs.MaxLen bytes, from
//     `git cat-file --batch-command`), has Convert turn it into the new
//     content (a lode pointer, the object cleaned into the store with every
//     byte checked against its SHA-256), and writes it inline;
//   - file changes of .gitattributes files: rewritten by RewriteAttributes;
//   - ref names: refs/X is written as TempPrefix+X, so fast-import never
//     touches an existing ref;
//   - annotated tags: held back, and written by Run with `git mktag` once
//     their commits exist (fast-import would name them refs/tags/NAME).
//
// With DVC set, the Rewriter converts DVC's .dvc files instead (dvc.go):
// a commit's file changes are held until its end; there, the outputs of
// each .dvc file it adds, changes or removes are deleted, its other
// changes written as they were, the new outputs written inline as lode
// pointers (a directory output one per file of its .dir listing, each
// object read from the DVC cache, checked against its md5 and cleaned
// once), and the .gitignore files beside outputs that came or went and the
// root .gitattributes rewritten from the original tree: without DVC's
// "/NAME" lines, with a "/PATH filter=lode -text" line per output. The
// .dvc files themselves are not written. For that, each commit keeps a
// pointer to what the rewrite needs of its original tree (the .dvc and
// .gitignore blob ids), shared with its parent until it changes.
//
// Memory is bounded by the number of distinct Git LFS objects (one small
// pointer each, so each is converted once) and of commits (the map), never
// by file sizes: blobs that are not pointers are never read.
//
// Run owns the git processes and the refs. Nothing is changed before the
// whole stream has been imported and the new data flushed: then one
// `git update-ref --stdin` transaction backs each original ref up under
// BackupPrefix, moves it to its rewritten commit (only if it still points
// where it pointed when the migration started), and drops the temporary
// refs. An interruption before that leaves every original ref as it was
// (fast-import is run with the done feature, so a cut stream writes no
// ref at all); what it wrote is unreferenced and goes with `git gc`.
package migrate
