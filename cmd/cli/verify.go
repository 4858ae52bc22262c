package cli

import (
	"errors"
	"fmt"
	"io"

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
	var rev, gitRemote string
	var storeOnly, onRemote, fix bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash the local store and every pointer reachable from HEAD",
		Long: `Checks, without changing anything:
  1. every pack and index in the local store: each object is decompressed and
     re-hashed against its id;
  2. every lode pointer in the history of REV (default HEAD): it parses, its
     data is present, and the reassembled content hashes to its oid.

With --remote, checks the lode remote instead of the local store: every
pointer in the history of REV has its data there, and that data, read back
in full, hashes right.

With --fix, verify also repairs the local store: it removes what killed
writers left behind more than a day ago (temporary files, packs without an
index), and drops damaged copies of objects (rewriting their packs without
them), so that 'git lode fetch' can download intact ones.

Problems are printed one per line. Exit code 0 means all is well (warnings,
such as files left by an interrupted writer, do not count), 3 means damage or
missing data was found.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, s, err := a.openRepoStore(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			out := a.io.Out
			prog := a.progress("verify")
			if onRemote {
				return a.verifyRemote(cmd, r, s, rev, gitRemote, prog)
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
			vs, err := store.Verify(ctx, s, func(p store.Problem) {
				if !p.Object.IsZero() {
					damaged = append(damaged, p.Object)
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
				n, bad, err := a.verifyPointers(cmd, r, s, rev, prog)
				if err != nil && !errors.Is(err, errNoCommits) {
					return err
				}
				errs += bad
				fmt.Fprintf(out, "pointers: %d distinct in the history of %s, %d with problems\n", n, rev, bad)
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
	cmd.Flags().StringVar(&rev, "rev", "HEAD", "check pointers in the history of this revision")
	cmd.Flags().BoolVar(&storeOnly, "store-only", false, "check only the local store, not the pointers in git")
	cmd.Flags().BoolVar(&onRemote, "remote", false, "check the lode remote instead of the local store")
	cmd.Flags().BoolVar(&fix, "fix", false, "remove old leftovers of killed writers and drop damaged copies from the local store")
	cmd.Flags().StringVar(&gitRemote, "git-remote", "", "git remote whose lode remote to check (default: the branch's remote, or origin)")
	return cmd
}

// verifyRemote reads back, from the lode remote, every file in the history
// of rev.
func (a *app) verifyRemote(cmd *cobra.Command, r *repo, s *store.Store, rev, gitRemote string, prog *progress) error {
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
	seen := map[cas.ID]bool{}
	n := 0
	err = gr.ReachablePointers(ctx, []plumbing.Hash{head}, nil, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil || seen[e.Pointer.OID] {
			return nil
		}
		seen[e.Pointer.OID] = true
		n++
		prog.printf("reading %s (%s) from %s", e.Path, humanBytes(e.Pointer.Size), rem)
		if err := transfer.VerifyFile(ctx, rem, e.Pointer, transfer.Options{}); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			bad++
			fmt.Fprintf(a.io.Out, "error: %s (commit %s, oid %s): %v\n", e.Path, commit.String()[:12], e.Pointer.OID.Short(), err)
		}
		return nil
	})
	prog.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.io.Out, "remote %s: %d distinct file(s) in the history of %s, %d with problems\n", rem, n, rev, bad)
	if bad > 0 {
		fmt.Fprintln(a.io.Out, "verify --remote FAILED")
		fmt.Fprintf(a.io.Err, "lode: to upload again, from this clone, what the remote lacks or holds damaged, run 'git lode push --repair %s'\n", rev)
		return &exitError{code: ExitProblems, err: errSilent}
	}
	fmt.Fprintln(a.io.Out, "verify --remote OK")
	return nil
}

// verifyPointers checks every distinct pointer reachable from rev by
// reassembling its content. It returns how many were checked and how many
// had problems (each printed).
func (a *app) verifyPointers(cmd *cobra.Command, r *repo, s *store.Store, rev string, prog *progress) (int, int, error) {
	ctx := cmd.Context()
	gr, head, err := a.openRev(r, rev)
	if err != nil {
		return 0, 0, err
	}
	defer gr.Close()
	seen := map[cas.ID]bool{}
	n, bad := 0, 0
	err = gr.ReachablePointers(ctx, []plumbing.Hash{head}, nil, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil {
			bad++
			fmt.Fprintf(a.io.Out, "error: %s (commit %s): damaged pointer: %v\n", e.Path, commit.String()[:12], e.Err)
			return nil
		}
		if seen[e.Pointer.OID] {
			return nil
		}
		seen[e.Pointer.OID] = true
		n++
		prog.printf("checking %s (%s)", e.Path, humanBytes(e.Pointer.Size))
		if err := checkPointer(cmd, s, e.Pointer); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			bad++
			fmt.Fprintf(a.io.Out, "error: %s (commit %s, oid %s): %v\n", e.Path, commit.String()[:12], e.Pointer.OID.Short(), err)
		}
		return nil
	})
	return n, bad, err
}

func checkPointer(cmd *cobra.Command, s *store.Store, p pointer.Pointer) error {
	return filer.Smudge(cmd.Context(), p, s, io.Discard, filer.Options{})
}
