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
	var rev, gitRemote string
	var storeOnly, onRemote, fix, full bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash the local store and every pointer reachable from HEAD",
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
     that way. The files of REV itself must be local; older versions need
     not be (a clone fetches what it checks out, a prune deletes what the
     remote holds): those absent are counted, and not an error.

With --remote, checks the lode remote instead of the local store: its indexes
(read again from the remote, not from the local copies), every pointer's
chunk list and every chunk, read back and checked (--full: each file read
whole, in order, and hashed).

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
				return a.verifyRemote(cmd, r, s, rev, gitRemote, full, prog)
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
				n, nbad, absent, err := a.verifyPointers(cmd, r, s, rev, bad, full, prog)
				if err != nil && !errors.Is(err, errNoCommits) {
					return err
				}
				errs += nbad
				fmt.Fprintf(out, "pointers: %d distinct in the history of %s, %d with problems", n, rev, nbad)
				if absent > 0 {
					fmt.Fprintf(out, ", %d older version(s) not local (not an error: 'git lode fetch REV' gets a revision's files, 'git lode verify --remote' checks the remote's copies)", absent)
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
	cmd.Flags().StringVar(&rev, "rev", "HEAD", "check pointers in the history of this revision")
	cmd.Flags().BoolVar(&storeOnly, "store-only", false, "check only the local store, not the pointers in git")
	cmd.Flags().BoolVar(&onRemote, "remote", false, "check the lode remote instead of the local store")
	cmd.Flags().BoolVar(&full, "full", false, "also reassemble every file and hash it against its oid")
	cmd.Flags().BoolVar(&fix, "fix", false, "remove old leftovers of killed writers and drop damaged copies from the local store")
	cmd.Flags().StringVar(&gitRemote, "git-remote", "", "git remote whose lode remote to check (default: the branch's remote, or origin)")
	return cmd
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
		fmt.Fprintf(a.io.Err, "lode: to upload again, from this clone, what the remote lacks or holds damaged, run 'git lode push --repair %s'\n", rev)
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
// damaged. It returns how many were checked, how many had problems (each
// printed), and how many older versions are not local.
func (a *app) verifyPointers(cmd *cobra.Command, r *repo, s *store.Store, rev string, bad map[cas.ID]bool, full bool, prog *progress) (n, nbad, absent int, err error) {
	ctx := cmd.Context()
	gr, head, err := a.openRev(r, rev)
	if err != nil {
		return 0, 0, 0, err
	}
	defer gr.Close()
	needed := map[cas.ID]bool{}
	err = gr.TreePointers(ctx, []plumbing.Hash{head}, nil, func(_ plumbing.Hash, e gitrepo.Entry) error {
		if e.Err == nil {
			needed[e.Pointer.OID] = true
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, err
	}
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
			if errors.Is(err, cas.ErrNotFound) && !needed[e.Pointer.OID] {
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
