package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/spf13/cobra"
)

func (a *app) verifyCommand() *cobra.Command {
	var revFlag, gitRemote string
	var rem remoteFlag
	var storeOnly, fix, full, allHistory bool
	cmd := &cobra.Command{
		Use:   "verify [REV]",
		Short: "Check the local store, and the lode files of REV (default HEAD) and of its history",
		Long: `Checks, without changing anything:
  1. every pack and index in the local store: each object is decompressed and
     re-hashed against its id (chunks), or its bytes against the id its
     pointers name (manifests);
  2. every lode pointer in the history of REV (default HEAD): it parses, its
     chunk list is present and is the one the pointer names, and every chunk
     is present and passed step 1. Since the pointer binds the chunk list
     and every chunk is checked against its id, that checks every byte of
     every file once. With --full, every file is also reassembled and its
     content hashed against its oid (a second pass over the data). Files of
     version 1 pointers, whose chunk lists nothing binds, are always checked
     that way.

The files of REV itself must be local. Older versions need not be: a clone
downloads what it checks out, and a prune deletes what the remote holds, so
those absent are counted, not errors; the ones present are checked. With
--all-history every version in the history of REV must be local, and each
one missing is an error.

With --remote, checks the lode remote instead of the local store: its indexes
(read again from the remote, not from the local copies), and for every file
in the history of REV its chunk list and every chunk, read back and checked
(--full: each file read whole, in order, and hashed). --remote alone checks
the lode remote of the current branch's git remote (or origin);
--remote=NAME, or --remote NAME, that of git remote NAME.

With --fix, verify also repairs the local store: it removes what killed
writers left behind more than a day ago (temporary files, packs without an
index), and drops damaged copies of objects (rewriting their packs without
them), so that 'git lode fetch' can download intact ones.

Problems are printed one per line. Exit code 0 means all is well (warnings,
such as files left by an interrupted writer, do not count), 3 means damage or
missing data was found.`,
		Args: remoteArgs(&rem, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, s, err := a.openRepoStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			args = a.takeRemoteOperand(ctx, r, &rem, args)
			rev, err := a.verifyRev(cmd, args, revFlag)
			if err != nil {
				return err
			}
			// A misspelt REV fails now, not after the store was read.
			if gr, _, err := a.openRev(r, rev); err == nil {
				gr.Close()
			} else if !errors.Is(err, errNoCommits) {
				return err
			}
			if cmd.Flags().Changed("git-remote") {
				a.deprecated("verify --git-remote NAME", "git lode verify --remote=NAME")
				if rem.name != "" && rem.name != gitRemote {
					return usageError("--remote=%s and --git-remote %s name two git remotes", rem.name, gitRemote)
				}
				rem.on, rem.name = true, gitRemote
			}
			out := a.io.Out
			prog := a.progress("verify")
			if rem.on {
				if err := a.needGitRemote(ctx, r, rem.name); err != nil {
					return err
				}
				if fix || storeOnly {
					return usageError("--fix and --store-only are for the local store; 'git lode push --repair' repairs the remote")
				}
				return a.verifyRemote(cmd, r, s, rev, rem.name, full, prog)
			}
			errs, warns := 0, 0
			if fix {
				removed, err := s.Tidy(store.DefaultGrace)
				if err != nil {
					return err
				}
				for _, p := range removed {
					fmt.Fprintf(out, "fixed: removed leftover %s\n", p)
				}
			}
			var damaged []cas.ID
			bad := map[cas.ID]bool{}
			midxDamaged := false
			vs, err := store.Verify(ctx, s, func(p store.Problem) {
				if !p.Object.IsZero() {
					damaged = append(damaged, p.Object)
					bad[p.Object] = true
				}
				if strings.HasSuffix(p.Path, ".midx") {
					midxDamaged = true
				}
				if p.Severity == store.Error {
					errs++
					fmt.Fprintf(out, "error: %s\n", p)
				} else {
					warns++
					fmt.Fprintf(out, "warning: %s\n", p)
				}
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "store: %d packs, %d objects, %s checked\n", vs.Packs, vs.Objects, humanBytes(vs.Bytes))
			if fix && midxDamaged {
				if err := s.RewriteMidx(); err != nil {
					return err
				}
				fmt.Fprintln(out, "fixed: wrote the multi-pack index again")
			}
			if fix {
				for _, id := range damaged {
					n, err := s.DropCorrupt(ctx, id)
					if err != nil {
						return err
					}
					if n > 0 {
						fmt.Fprintf(out, "fixed: dropped %d damaged copy(ies) of object %s; 'git lode fetch' gets an intact one from the remote\n", n, id)
					}
				}
			}

			if !storeOnly {
				n, nbad, absent, err := a.verifyPointers(cmd, r, s, rev, bad, full, allHistory, prog)
				if err != nil && !errors.Is(err, errNoCommits) {
					return err
				}
				errs += nbad
				fmt.Fprintf(out, "pointers: %d distinct in the history of %s, %d with problems", n, rev, nbad)
				if absent > 0 {
					fmt.Fprintf(out, ", %d older version(s) not local (not an error: 'git lode fetch REV' gets a revision's files, 'git lode verify --remote' checks the remote's copies, --all-history requires them)", absent)
				}
				fmt.Fprintln(out)
			}
			prog.done()
			if errs > 0 {
				fmt.Fprintf(out, "verify FAILED: %d problem(s), %d warning(s)\n", errs, warns)
				return &exitError{code: ExitProblems, err: errSilent}
			}
			fmt.Fprintf(out, "verify OK (%d warning(s))\n", warns)
			return nil
		},
	}
	cmd.Flags().BoolVar(&storeOnly, "store-only", false, "check only the local store, not the pointers in git")
	a.addRemoteFlag(cmd, &rem, "check")
	cmd.Flags().BoolVar(&allHistory, "all-history", false, "every version in the history of REV must be local: one missing is an error")
	cmd.Flags().BoolVar(&full, "full", false, "also reassemble every file and hash it against its oid")
	cmd.Flags().BoolVar(&fix, "fix", false, "remove old leftovers of killed writers and drop damaged copies from the local store")
	// The names of earlier versions.
	cmd.Flags().StringVar(&revFlag, "rev", "", "the revision (now the argument REV)")
	cmd.Flags().StringVar(&gitRemote, "git-remote", "", "the git remote (now --remote=NAME)")
	_ = cmd.Flags().MarkHidden("rev")
	_ = cmd.Flags().MarkHidden("git-remote")
	return cmd
}

// verifyRev is the revision verify checks: REV, or the deprecated --rev,
// or HEAD.
func (a *app) verifyRev(cmd *cobra.Command, args []string, revFlag string) (string, error) {
	if len(args) > 1 {
		return "", usageError("takes at most one REV, got %s", strings.Join(args, " "))
	}
	if cmd.Flags().Changed("rev") {
		a.deprecated("verify --rev REV", "git lode verify REV")
		if len(args) == 1 && args[0] != revFlag {
			return "", usageError("REV %s and --rev %s: give one revision", args[0], revFlag)
		}
		return revFlag, nil
	}
	if len(args) == 1 {
		return args[0], nil
	}
	return "HEAD", nil
}

// verifyRemote reads back, from the lode remote, what every file in the
// history of rev needs.
func (a *app) verifyRemote(cmd *cobra.Command, r *repo, s *store.Store, rev, gitRemote string, full bool, prog *progress) error {
	ctx := cmd.Context()
	rem, err := a.openRemote(ctx, r, s, gitRemote)
	if err != nil {
		return err
	}
	defer rem.Close()
	if err := rem.SyncFresh(ctx); err != nil {
		return err
	}
	bad := 0
	for _, p := range rem.Problems() {
		bad++
		fmt.Fprintf(a.io.Out, "error: %s: %v\n", p.Name, p.Err)
	}
	gr, head, err := a.openRev(r, rev)
	if err != nil {
		return err
	}
	defer gr.Close()
	type where struct{ path, commit string }
	seen := map[cas.ID]where{}
	var ptrs []pointer.Pointer
	err = gr.ReachablePointers(ctx, []plumbing.Hash{head}, nil, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil {
			return nil
		}
		if _, ok := seen[e.Pointer.OID]; !ok {
			seen[e.Pointer.OID] = where{e.Path, commit.String()[:12]}
			ptrs = append(ptrs, e.Pointer)
		}
		return nil
	})
	if err != nil {
		return err
	}
	prog.printf("reading back %d file(s) from %s", len(ptrs), rem)
	var problems map[cas.ID]error
	if full {
		problems = map[cas.ID]error{}
		for _, p := range ptrs {
			if err := transfer.VerifyFile(ctx, rem, p, transfer.Options{}); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				problems[p.OID] = err
			}
		}
	} else if problems, err = transfer.VerifyRemote(ctx, rem, ptrs, transfer.Options{}); err != nil {
		return err
	}
	prog.done()
	for _, p := range ptrs {
		if err, ok := problems[p.OID]; ok {
			bad++
			w := seen[p.OID]
			fmt.Fprintf(a.io.Out, "error: %s (commit %s, oid %s): %v\n", w.path, w.commit, p.OID.Short(), err)
		}
	}
	fmt.Fprintf(a.io.Out, "remote %s: %d distinct file(s) in the history of %s, %d problem(s)\n", rem, len(ptrs), rev, bad)
	if bad > 0 {
		fmt.Fprintln(a.io.Out, "verify --remote FAILED")
		push := "git lode push --repair"
		if gitRemote != "" {
			push += " --remote " + gitRemote
		}
		fmt.Fprintf(a.io.Err, "lode: to upload again, from this clone, what the remote lacks or holds damaged, run '%s %s'\n", push, rev)
		return &exitError{code: ExitProblems, err: errSilent}
	}
	fmt.Fprintln(a.io.Out, "verify --remote OK")
	return nil
}

// verifyPointers checks every distinct pointer reachable from rev: its
// chunk list is present and bound to it, and every chunk is present and
// not among those the store check found damaged (bad); with full, or for
// a version 1 pointer, by reassembling the content and hashing it. The
// files of rev's own tree must be local; older versions may be absent (a
// clone fetches only what it checks out, a prune deletes what the remote
// holds): those are counted, not reported, unless they are there and
// damaged, or allHistory requires every version. It returns how many
// were checked, how many had problems (each printed), and how many older
// versions are not local.
func (a *app) verifyPointers(cmd *cobra.Command, r *repo, s *store.Store, rev string, bad map[cas.ID]bool, full, allHistory bool, prog *progress) (n, nbad, absent int, err error) {
	ctx := cmd.Context()
	gr, head, err := a.openRev(r, rev)
	if err != nil {
		return 0, 0, 0, err
	}
	defer gr.Close()
	// One walk: the tree of head comes first, so a pointer met with
	// another commit is not in head's tree (unless its blob is, which the
	// walk reports once, with head).
	seen := map[cas.ID]bool{}
	err = gr.ReachablePointers(ctx, []plumbing.Hash{head}, nil, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil {
			nbad++
			fmt.Fprintf(a.io.Out, "error: %s (commit %s): damaged pointer: %v\n", e.Path, commit.String()[:12], e.Err)
			return nil
		}
		if seen[e.Pointer.OID] {
			return nil
		}
		seen[e.Pointer.OID] = true
		n++
		prog.printf("checking %s (%s)", e.Path, humanBytes(e.Pointer.Size))
		if err := checkPointer(ctx, s, e.Pointer, bad, full); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, cas.ErrNotFound) && commit != head && !allHistory {
				absent++
				return nil
			}
			nbad++
			fmt.Fprintf(a.io.Out, "error: %s (commit %s, oid %s): %v\n", e.Path, commit.String()[:12], e.Pointer.OID.Short(), err)
		}
		return nil
	})
	return n, nbad, absent, err
}

// checkPointer checks the data of the file p points to in s.
func checkPointer(ctx context.Context, s *store.Store, p pointer.Pointer, bad map[cas.ID]bool, full bool) error {
	if full || p.V1 {
		return filer.Smudge(ctx, p, s, io.Discard, filer.Options{})
	}
	if p.Size == 0 {
		return nil
	}
	m, err := filer.Manifest(ctx, s, p)
	if err != nil {
		return err
	}
	for _, c := range m.Chunks {
		if bad[c.ID] {
			return fmt.Errorf("chunk %s at offset %d: %w (see above)", c.ID.Short(), c.Offset, cas.ErrCorrupt)
		}
		if ok, _ := s.Has(ctx, c.ID); !ok {
			return fmt.Errorf("chunk %s at offset %d: %w", c.ID.Short(), c.Offset, cas.ErrNotFound)
		}
	}
	return nil
}
