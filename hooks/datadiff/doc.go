// Package datadiff compares the data of two versions of a repository: the
// lode files that were added, modified or deleted between two trees (or a
// tree and the work tree), what the change costs in new chunks, the values
// of metrics files, and the row counts and headers of CSV files. It is the
// logic of `git lode diff`; cmd/cli words and formats the result.
//
// Terms:
//
//   - A change (RawChange) is a path whose blob differs between the two
//     sides, as git's raw diff reports it: trees are compared by hash, so
//     a subtree that did not change is never read (TreeChanges). The work
//     tree side is given by the caller (cmd runs `git diff-index`), as a
//     path to read instead of a blob.
//   - A version (Version) is one side of a change, classified: a lode file
//     (its blob is a pointer, or a work-tree file that git's attributes
//     hand to lode, which is then hashed here as `git add` would, without
//     storing anything), a damaged pointer (starts like one, does not
//     parse), or a plain file. Plain files are reported only when they are
//     metrics files.
//   - Bytes new to the store (Cost): the chunks the new side's files need
//     that the old side's changed files (those modified or deleted) do not
//     have, counted once each: their raw length, and their compressed
//     length as the local store holds them (else as the remote's index
//     gives it, else, for work-tree content never added, as `git add`
//     would compress it). Only chunk lists are read (from the local store,
//     else the remote), never chunk data. A chunk that an unchanged file
//     of the old side also holds is counted as new: the figure is an upper
//     bound, exact for edits, renames and deletions.
//   - A metrics file is a JSON, YAML or CSV file of numbers (see
//     ParseMetrics); keys are flattened as a.b.c. Values that are not
//     numbers are compared as text.
//   - CSV statistics (CSVStats) are computed streaming, in memory bounded
//     whatever the line lengths: the row count (records after the header;
//     newlines inside quoted fields do not end a record) and the header's
//     columns (the first MaxHeader bytes).
//
// Everything read is verified: lode content through cas/filer or
// cas/rangeread (every chunk against its id, the chunk list against the
// pointer), git objects by git's own hashing.
package datadiff
