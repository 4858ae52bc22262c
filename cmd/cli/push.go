package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/spf13/cobra"
)

func (a *app) pushCommand() *cobra.Command {
	var all, repair bool
	var remoteName string
	cmd := &cobra.Command{
		Use:   "push [GIT-REMOTE] [REV...]",
		Short: "Upload the data that commits reference to the lode remote (what the pre-push hook does)",
		Long: `Uploads to the lode remote the files that REV (default HEAD) needs: every lode
file in its tree, and those of the commits reachable from it that are not in
the history GIT-REMOTE already has (its remote-tracking branches). What the
lode remote already holds is not sent again; the remote's indexes say what
that is. With --all, every branch and tag and all their history.

GIT-REMOTE, or --remote NAME (default: the current branch's remote, or
origin), only matters for the embedded default remote and for what counts as
already pushed; .lode.toml's [remote] url, or LODE_REMOTE_URL, says where the
data goes. A first argument that is not a git remote is a REV.

With --repair, push reads back from the lode remote everything the history of
REV (or, with --all, of every branch and tag) needs, and uploads again from
this clone whatever the remote lacks or holds damaged: what to run when
'git lode verify --remote' found problems.

Uploads are resumable: an interrupted push, run again, uploads only what is
still missing.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			if err := a.needGitRemote(ctx, r, remoteName); err != nil {
				return err
			}
			gitRemote := remoteName
			if gitRemote == "" && len(args) > 0 && a.isGitRemote(ctx, r, args[0]) {
				gitRemote, args = args[0], args[1:]
			}
			revs := args
			var exclude []plumbing.Hash
			switch {
			case all:
				if len(revs) > 0 {
					return usageError("--all takes no revisions")
				}
				if revs, err = a.allRefs(ctx, r); err != nil {
					return err
				}
			case len(revs) == 0:
				revs = []string{"HEAD"}
			}
			if !all && !repair {
				name := gitRemote
				if name == "" {
					name = a.defaultGitRemote(ctx, r.dir())
				}
				if exclude, err = a.remoteTips(ctx, r, name); err != nil {
					return err
				}
			}
			include, err := a.resolveRevs(ctx, r, revs)
			if err != nil {
				return err
			}
			return a.push(ctx, r, pushRequest{gitRemote: gitRemote, include: include, exclude: exclude, repair: repair, all: all, history: !all && !repair})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "push the data of every branch and tag, and all their history")
	cmd.Flags().BoolVar(&repair, "repair", false, "read back what the remote has for these commits and upload again what is missing or damaged there")
	cmd.Flags().StringVar(&remoteName, "remote", "", "git remote whose lode remote to push to, as GIT-REMOTE (default: the current branch's remote, or origin)")
	a.completeGitRemotes(cmd, "remote")
	return cmd
}

// pushRequest is what to push: the data of the trees of include, and of
// the commits in include's history that are not in exclude's.
type pushRequest struct {
	gitRemote, gitURL string
	include, exclude  []plumbing.Hash
	repair            bool
	quiet             bool // no message when there is nothing to push (the hook)
	// all: the whole history of include, whatever the marks say (a mark
	// says a commit's tree is whole on the remote, not its history).
	all bool
	// history: afterwards, look through the whole history of include for
	// files the remote still lacks (pushed by git alone, as with 'git push
	// --no-verify'), and say what to run.
	history bool
}

// push uploads what the pushed tips need: every lode file in their trees
// (so that a fresh clone of them works, whatever the lode remote received
// before, as after a change of remote URL) and in the history that the
// remote lacks. Trees this machine already pushed whole to the same lode
// remote (its marks) are not walked again, so a push of one changed file
// reads only the directories that changed.
func (a *app) push(ctx context.Context, r *repo, req pushRequest) error {
	if len(req.include) == 0 {
		return nil
	}
	st, err := a.openStore(ctx, r)
	if err != nil {
		return err
	}
	defer st.Close()
	rem, remErr := a.openRemoteFor(ctx, r, st, req.gitRemote, req.gitURL)
	if remErr == nil {
		defer rem.Close()
	}
	marks := func() []plumbing.Hash {
		if remErr != nil || req.repair {
			return nil
		}
		var hs []plumbing.Hash
		for _, m := range rem.Marks() {
			hs = append(hs, plumbing.NewHash(m))
		}
		return hs
	}
	var known []plumbing.Hash
	if remErr == nil {
		// Before trusting the marks: a remote that lost packs drops them,
		// and so does one where a prune condemned some (what a mark says
		// is whole may be in them).
		if err := rem.Sync(ctx); err != nil {
			return err
		}
		if len(rem.Condemned()) == 0 {
			known = marks()
		}
	}
	histExclude := slices.Clone(req.exclude)
	if !req.all {
		histExclude = append(histExclude, known...)
	}
	ptrs, err := a.pushPointers(ctx, r, req.include, histExclude, known)
	if err != nil {
		return err
	}
	if len(ptrs) == 0 {
		if !req.quiet {
			fmt.Fprintln(a.io.Err, "lode: nothing to push (no lode files in these commits that this remote lacks)")
		}
		if remErr == nil {
			a.markPushed(rem, req.include)
			if req.history {
				return a.reportHistoryGaps(ctx, r, st, rem, req.include)
			}
		}
		return nil
	}
	if remErr != nil {
		return remErr
	}
	a.tidy(st)
	if err := a.pushTo(ctx, st, rem, ptrs, req.repair); err != nil {
		return err
	}
	a.markPushed(rem, req.include)
	if req.history {
		return a.reportHistoryGaps(ctx, r, st, rem, req.include)
	}
	return nil
}

// reportHistoryGaps looks through the whole history of include for lode
// files that rem (as last synced; no requests) does not have, which a push
// of these commits does not cover: it sends the tips' trees and the
// commits the git remote lacks, so commits that reached it without their
// data ('git push --no-verify', a push from a clone without lode) stay
// incomplete. It says what to run; only a failure to walk is an error.
func (a *app) reportHistoryGaps(ctx context.Context, r *repo, st *store.Store, rem *remotestore.Store, include []plumbing.Hash) error {
	gr, err := gitrepo.Open(r.dir())
	if err != nil {
		return err
	}
	defer gr.Close()
	n, notLocal := 0, 0
	var first string
	err = gr.ReachablePointers(ctx, include, nil, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil || transfer.OnRemote(rem, e.Pointer) {
			return nil
		}
		if n == 0 {
			first = fmt.Sprintf("%s in commit %s", e.Path, commit.String()[:12])
		}
		n++
		if !transfer.Complete(ctx, st, e.Pointer) {
			notLocal++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("look through the history for files the remote lacks: %w", err)
	}
	if n == 0 {
		return nil
	}
	fmt.Fprintf(a.io.Err, "lode: but %d lode file(s) of older commits are not on %s (the first: %s); a checkout of those commits gets pointers instead\n", n, rem, first)
	switch {
	case notLocal == 0:
		fmt.Fprintln(a.io.Err, "lode: run 'git lode push --all' to upload them (every branch and tag, and all their history)")
	case notLocal < n:
		fmt.Fprintf(a.io.Err, "lode: %d of them are not in this clone's store either: run 'git lode push --all' in a clone that has them all\n", notLocal)
	default:
		fmt.Fprintln(a.io.Err, "lode: this clone's store does not have them either: run 'git lode push --all' in a clone that has them")
	}
	return nil
}

// markPushed records that the trees of commits are whole on rem.
func (a *app) markPushed(rem *remotestore.Store, commits []plumbing.Hash) {
	var tokens []string
	for _, c := range commits {
		tokens = append(tokens, c.String())
	}
	if err := rem.AddMarks(tokens); err != nil && a.getenv("LODE_DEBUG") != "" {
		fmt.Fprintf(a.io.Err, "git-lode: %v\n", err)
	}
}

func (a *app) pushTo(ctx context.Context, st *store.Store, rem *remotestore.Store, ptrs []pointer.Pointer, repair bool) error {
	progress, finish := a.transferProgress("lode: uploading")
	stats, err := transfer.Push(ctx, st, rem, ptrs, transfer.Options{Progress: progress, PackSize: a.packSize(), Repair: repair})
	finish()
	a.reportRemoteProblems(rem)
	if err != nil {
		return fmt.Errorf("upload to %s: %w", rem, explainTransferError(err))
	}
	a.printStats("push", stats, rem.String())
	if repair {
		fmt.Fprintf(a.io.Err, "lode: repair: %d object(s) the remote held damaged were uploaded again\n", stats.Repaired)
	}
	return nil
}

// reportRemoteProblems warns about what the remote holds that was not used.
func (a *app) reportRemoteProblems(rem *remotestore.Store) {
	for _, p := range rem.Problems() {
		fmt.Fprintf(a.io.Err, "git-lode: warning: %s on %s: %v (not used: run 'git lode verify --remote')\n", p.Name, rem, p.Err)
	}
}

// tidy removes what killed writers left in the store long ago.
func (a *app) tidy(st *store.Store) {
	if _, err := st.Tidy(store.DefaultGrace); err != nil {
		fmt.Fprintf(a.io.Err, "git-lode: warning: %v\n", err)
	}
}

// pushPointers lists the distinct pointers in the history of include
// that is not in the history of exclude, and in the trees of include
// except in subtrees the trees of except also hold: what a push sends.
// Each pointer blob is read once.
func (a *app) pushPointers(ctx context.Context, r *repo, include, exclude, except []plumbing.Hash) ([]pointer.Pointer, error) {
	gr, err := gitrepo.Open(r.dir())
	if err != nil {
		return nil, err
	}
	defer gr.Close()
	var ptrs []pointer.Pointer
	err = gr.ReachableAndTreePointers(ctx, include, exclude, except, func(commit plumbing.Hash, e gitrepo.Entry) error {
		if e.Err != nil {
			a.warnDamagedPointer(commit, e)
			return nil
		}
		ptrs = append(ptrs, e.Pointer)
		return nil
	})
	return ptrs, err
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

// peelToCommits returns the commits that the objects hs are or tag, with
// one git process; objects that are not here, or tag no commit, give none.
func (a *app) peelToCommits(ctx context.Context, r *repo, hs []plumbing.Hash) ([]plumbing.Hash, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, h := range hs {
		fmt.Fprintf(&in, "%s^{commit}\n", h)
	}
	out, err := a.git(ctx, r.dir(), in.Bytes(), "cat-file", "--batch-check=%(objectname) %(objecttype)")
	if err != nil {
		return nil, err
	}
	var cs []plumbing.Hash
	for _, l := range strings.Split(string(out), "\n") {
		if id, typ, ok := strings.Cut(l, " "); ok && typ == "commit" && len(id) == 40 {
			cs = append(cs, plumbing.NewHash(id))
		}
	}
	return cs, nil
}

// prePush is lode's part of the pre-push hook: it uploads the data of the
// commits being pushed, and fails (so git sends nothing) if it cannot.
func (a *app) prePush(ctx context.Context, r *repo, args []string, stdin []byte) error {
	if len(args) < 2 {
		return usageError("needs the remote name and URL that git passes")
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
			return fmt.Errorf("unexpected input line %q from git", sc.Text())
		}
		local, remoteSHA := plumbing.NewHash(f[1]), plumbing.NewHash(f[3])
		if !local.IsZero() {
			include = append(include, local)
		}
		if !remoteSHA.IsZero() {
			exclude = append(exclude, remoteSHA)
		}
	}
	// An annotated tag is pushed as its tag object: its commit is what
	// has data (a tag of a tree or blob has none in history). A remote
	// object that is not here cannot be in the history pushed.
	var err error
	if include, err = a.peelToCommits(ctx, r, include); err != nil {
		return err
	}
	if exclude, err = a.peelToCommits(ctx, r, exclude); err != nil {
		return err
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
	if err := a.push(ctx, r, pushRequest{gitRemote: gitRemote, gitURL: gitURL, include: include, exclude: exclude, quiet: true}); err != nil {
		return fmt.Errorf("%w\nthe push was stopped before git sent anything; fix the problem and push again (what was uploaded is kept)", err)
	}
	return nil
}
