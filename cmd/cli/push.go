package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/spf13/cobra"
)

func (a *app) pushCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "push [GIT-REMOTE] [REV...]",
		Short: "Upload the data that commits reference to the lode remote (what the pre-push hook does)",
		Long: `Uploads to the lode remote the files that the commits reachable from REV
(default HEAD) reference and that are not in the history GIT-REMOTE already
has (its remote-tracking branches). With --all, every branch and tag, and
nothing is assumed to be there already. GIT-REMOTE (default: the current
branch's remote, or origin) only matters for the embedded default remote and
for what counts as already pushed; .lode.toml's [remote] url, or
LODE_REMOTE_URL, says where the data goes.

Uploads are resumable: an interrupted push, run again, uploads only what is
still missing.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			gitRemote := ""
			if len(args) > 0 && a.isGitRemote(ctx, r, args[0]) {
				gitRemote, args = args[0], args[1:]
			}
			revs := args
			var exclude []plumbing.Hash
			if all {
				if len(revs) > 0 {
					return usageError("--all takes no revisions")
				}
				revs, err = a.allRefs(ctx, r)
				if err != nil {
					return err
				}
			} else {
				if len(revs) == 0 {
					revs = []string{"HEAD"}
				}
				name := gitRemote
				if name == "" {
					name = a.defaultGitRemote(ctx, r.dir())
				}
				exclude, err = a.remoteTips(ctx, r, name)
				if err != nil {
					return err
				}
			}
			include, err := a.resolveRevs(ctx, r, revs)
			if err != nil {
				return err
			}
			return a.push(ctx, r, gitRemote, "", include, exclude, false)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "push the data of every branch and tag")
	return cmd
}

// push uploads what the history include..exclude references. quiet
// suppresses the message when there is nothing to do (the hook runs on
// every push, most of which carry no lode files).
func (a *app) push(ctx context.Context, r *repo, gitRemote, gitURL string, include, exclude []plumbing.Hash, quiet bool) error {
	var ptrs []pointer.Pointer
	if len(include) > 0 {
		var err error
		if ptrs, err = a.reachablePointers(ctx, r, include, exclude); err != nil {
			return err
		}
	}
	if len(ptrs) == 0 {
		if !quiet {
			fmt.Fprintln(a.io.Err, "lode: nothing to push (no lode files in commits the remote lacks)")
		}
		return nil
	}
	st, err := a.openStore(ctx, r)
	if err != nil {
		return err
	}
	defer st.Close()
	rem, err := a.openRemoteFor(ctx, r, st, gitRemote, gitURL)
	if err != nil {
		return err
	}
	defer rem.Backend().Close()
	return a.pushTo(ctx, st, rem, ptrs)
}

func (a *app) pushTo(ctx context.Context, st *store.Store, rem *transfer.Remote, ptrs []pointer.Pointer) error {
	progress, finish := a.transferProgress("lode: uploading")
	stats, err := transfer.Push(ctx, st, rem, ptrs, transfer.Options{Progress: progress, PackSize: a.packSize()})
	finish()
	if err != nil {
		return fmt.Errorf("upload to %s: %w", rem, explainTransferError(err))
	}
	a.printStats("push", stats, rem.String())
	return nil
}

// isGitRemote reports whether name is a configured git remote.
func (a *app) isGitRemote(ctx context.Context, r *repo, name string) bool {
	_, err := a.git(ctx, r.dir(), nil, "remote", "get-url", name)
	return err == nil
}

// allRefs lists every branch and tag.
func (a *app) allRefs(ctx context.Context, r *repo) ([]string, error) {
	out, err := a.git(ctx, r.dir(), nil, "for-each-ref", "--format=%(objectname)", "refs/heads", "refs/tags")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// remoteTips lists the commits git knows the remote has (its
// remote-tracking branches).
func (a *app) remoteTips(ctx context.Context, r *repo, name string) ([]plumbing.Hash, error) {
	out, err := a.git(ctx, r.dir(), nil, "for-each-ref", "--format=%(objectname)", "refs/remotes/"+name+"/")
	if err != nil {
		return nil, err
	}
	var hs []plumbing.Hash
	for _, f := range strings.Fields(string(out)) {
		hs = append(hs, plumbing.NewHash(f))
	}
	return hs, nil
}

// resolveRevs turns revisions into commit hashes with git.
func (a *app) resolveRevs(ctx context.Context, r *repo, revs []string) ([]plumbing.Hash, error) {
	var hs []plumbing.Hash
	for _, rev := range revs {
		out, err := a.git(ctx, r.dir(), nil, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
		if err != nil {
			return nil, usageError("unknown revision %q (try a commit, branch or tag that 'git log' shows)", rev)
		}
		hs = append(hs, plumbing.NewHash(strings.TrimSpace(string(out))))
	}
	return hs, nil
}

// prePush is lode's part of the pre-push hook: it uploads the data of the
// commits being pushed, and fails (so git sends nothing) if it cannot.
func (a *app) prePush(ctx context.Context, r *repo, args []string, stdin []byte) error {
	if len(args) < 2 {
		return usageError("pre-push needs the remote name and URL that git passes")
	}
	gitRemote, gitURL := args[0], args[1]
	var include, exclude []plumbing.Hash
	sc := bufio.NewScanner(bytes.NewReader(stdin))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			return fmt.Errorf("pre-push: unexpected input line %q from git", sc.Text())
		}
		local, remoteSHA := plumbing.NewHash(f[1]), plumbing.NewHash(f[3])
		if !local.IsZero() {
			include = append(include, local)
		}
		if !remoteSHA.IsZero() {
			exclude = append(exclude, remoteSHA)
		}
	}
	if a.isGitRemote(ctx, r, gitRemote) {
		tips, err := a.remoteTips(ctx, r, gitRemote)
		if err != nil {
			return err
		}
		exclude = append(exclude, tips...)
	} else {
		gitRemote = "" // a push to a URL
	}
	if err := a.push(ctx, r, gitRemote, gitURL, include, exclude, true); err != nil {
		return fmt.Errorf("%w\nthe push was stopped before git sent anything; fix the problem and push again (what was uploaded is kept)", err)
	}
	return nil
}
