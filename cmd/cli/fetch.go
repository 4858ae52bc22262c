package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lodevcs/lode/cas/transfer"
	"github.com/spf13/cobra"
)

type fetchFlags struct {
	include, exclude []string
	remote           string
}

func (f *fetchFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVarP(&f.include, "include", "I", nil, "only files matching these globs (\"*.csv\", \"data/**\"; repeat or separate with commas)")
	cmd.Flags().StringSliceVarP(&f.exclude, "exclude", "X", nil, "skip files matching these globs")
	cmd.Flags().StringVar(&f.remote, "remote", "", "git remote whose lode remote to use (default: the branch's remote, or origin)")
}

func (a *app) fetchCommand() *cobra.Command {
	var f fetchFlags
	cmd := &cobra.Command{
		Use:   "fetch [REV...]",
		Short: "Download the data of the lode files at revisions (default HEAD), without checking out",
		Long: `Downloads into the local store the data of the lode files in the tree of each
REV (default HEAD), as far as --include and --exclude select them. Only what
the local store lacks is downloaded: the files' manifests, then the missing
chunks with ranged reads. Every chunk is verified before it is stored, and
what the local store already holds of these files is read back first: a
damaged copy is dropped and downloaded again.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := a.fetch(cmd.Context(), args, f)
			return err
		},
	}
	f.add(cmd)
	return cmd
}

// fetch downloads the lode files of revs selected by f, and returns the
// repository.
func (a *app) fetch(ctx context.Context, revs []string, f fetchFlags) (*repo, error) {
	r, err := a.findRepo(ctx)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		revs = []string{"HEAD"}
	}
	ptrs, _, err := a.pointersAt(ctx, r, revs, pathFilter{include: f.include, exclude: f.exclude})
	if err != nil {
		return nil, err
	}
	if len(ptrs) == 0 {
		return r, nil
	}
	st, err := a.openStore(ctx, r)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	a.tidy(st)
	rem, err := a.openRemote(ctx, r, st, f.remote)
	if err != nil {
		return nil, err
	}
	defer rem.Close()
	progress, finish := a.transferProgress("lode: downloading")
	// VerifyLocal: what the store already has of these files is read
	// back, so that a damaged copy is replaced rather than reported as
	// "already there".
	stats, err := transfer.Fetch(ctx, st, rem, ptrs, transfer.Options{Progress: progress, VerifyLocal: true})
	finish()
	a.reportRemoteProblems(rem)
	if err != nil {
		return nil, fmt.Errorf("download from %s: %w", rem, err)
	}
	a.printStats("fetch", stats, rem.String())
	return r, nil
}

func (a *app) pullCommand() *cobra.Command {
	var f fetchFlags
	cmd := &cobra.Command{
		Use:   "pull [REV]",
		Short: "Fetch, then replace the pointers left in the work tree with their content",
		Long: `Runs 'git lode fetch REV' (default HEAD), then turns every lode file of the
work tree that still holds its pointer (after a clone with
GIT_LODE_SKIP_SMUDGE=1, or a checkout whose download failed) into its
content, through 'git checkout' so that git's index stays right. Files you
have modified are left alone.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.fetch(ctx, args, f)
			if err != nil {
				return err
			}
			if err := r.needWorkTree(); err != nil {
				return err
			}
			return a.materialize(ctx, r, pathFilter{include: f.include, exclude: f.exclude})
		},
	}
	f.add(cmd)
	return cmd
}

// materialize checks out again the lode files whose work tree copy is
// exactly the pointer in the index.
func (a *app) materialize(ctx context.Context, r *repo, f pathFilter) error {
	ents, err := a.lodeIndexEntries(ctx, r)
	if err != nil {
		return err
	}
	type pending struct {
		path    string
		pointer []byte
	}
	var todo []pending
	var paths bytes.Buffer
	for _, e := range leftPointers(r.workTree, ents) {
		if !f.match(e.path) {
			continue
		}
		todo = append(todo, pending{e.path, e.text})
		paths.WriteString(e.path)
		paths.WriteByte(0)
	}
	if len(todo) == 0 {
		return nil
	}
	// git skips files that look unchanged since the index was written, so
	// the pointer files go first; they are put back if the checkout fails.
	for _, t := range todo {
		if err := os.Remove(filepath.Join(r.workTree, filepath.FromSlash(t.path))); err != nil {
			return err
		}
	}
	env := []string{"GIT_LODE_SKIP_SMUDGE=0"}
	if _, err := a.gitEnv(ctx, r.workTree, env, paths.Bytes(), "checkout", "--pathspec-from-file=-", "--pathspec-file-nul"); err != nil {
		for _, t := range todo {
			p := filepath.Join(r.workTree, filepath.FromSlash(t.path))
			if _, serr := os.Lstat(p); os.IsNotExist(serr) {
				_ = os.WriteFile(p, t.pointer, 0o644)
			}
		}
		return fmt.Errorf("check out the fetched files: %w", err)
	}
	fmt.Fprintf(a.io.Err, "lode: checked out %d file(s)\n", len(todo))
	return nil
}
