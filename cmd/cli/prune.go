package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/spf13/cobra"
)

// defaultRecentDays is how much history a local prune keeps, as git lfs
// prune does.
const defaultRecentDays = 7

type pruneFlags struct {
	dryRun, verifyRemote bool
	remote               remoteFlag
	recent               int
	recentSet            bool
	grace                string
	also                 []string
}

func (a *app) pruneCommand(name string) *cobra.Command {
	var f pruneFlags
	cmd := &cobra.Command{
		Use:   name + " [--dry-run] [--recent DAYS] [--verify-remote] | --remote[=NAME] [--dry-run] [--grace DURATION] [--also REPO...]",
		Short: "Free space: delete stored data that nothing keeps (gc is the same command)",
		Long: `Frees space in the local store, or with --remote on the lode remote.

Locally, prune keeps the data of:
  - the files of every worktree's HEAD and index, of every stash, and of the
    tips of every branch, tag and remote-tracking branch;
  - the history of the last DAYS days (--recent, default 7, or prune.recent
    in .lode.toml or the user configuration; 0 keeps the tips only) of the
    current branch and of the remote-tracking branches;
  - anything older history needs that the lode remote does not hold (it is
    never deleted before it was pushed; with --verify-remote, "holds" means
    read back and checked, not only listed in the remote's indexes).
Everything else goes: versions of files that no commit, index or stash
names any more (a 'git status' over a changed file stores it; 'git
checkout' throws the change away), older history that is on the remote,
and what killed writers left behind. Packs that become mostly empty are
rewritten, so that the space really comes back. A prune waits for the git
commands writing to the store (git add, fetch) to finish, and they wait for
it, so nothing they rely on is deleted under them.

With --remote, prune frees space on the lode remote of the current branch's
git remote (or origin; --remote=NAME or --remote NAME: of git remote NAME):
it fetches every ref of that git remote and of each --also repository that
shares the lode remote, keeps what all their history needs,
and condemns the packs nothing needs (recorded on the remote with the time).
A later prune deletes a condemned pack once --grace has passed (default 24h,
or prune.grace; longer than any push takes) if it is still not needed;
pushes meanwhile upload again what they would have found there, so a push
running at the same time on another machine never ends with a commit whose
data was deleted. Packs mostly dead are repacked (their live objects
uploaded into a new pack, the old one condemned). --grace 0 deletes at
once: only for tests and emergencies, when nothing pushes meanwhile.
Pruning a remote needs credentials that may delete.

--dry-run says what would be deleted and how much it would free.`,
		Args: remoteArgs(&f.remote, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.recentSet = cmd.Flags().Changed("recent")
			if f.remote.on {
				return a.pruneRemote(cmd.Context(), f, args)
			}
			if len(f.also) > 0 || cmd.Flags().Changed("grace") {
				return usageError("--also and --grace are for --remote")
			}
			return a.pruneLocal(cmd.Context(), f)
		},
	}
	cmd.Flags().BoolVarP(&f.dryRun, "dry-run", "n", false, "say what would be deleted, delete nothing")
	cmd.Flags().IntVar(&f.recent, "recent", defaultRecentDays, "days of history to keep (0: the tips only)")
	cmd.Flags().BoolVar(&f.verifyRemote, "verify-remote", false, "read back from the remote what is deleted locally because the remote has it")
	a.addRemoteFlag(cmd, &f.remote, "prune")
	cmd.Flags().StringVar(&f.grace, "grace", "", "with --remote: how long a condemned pack waits before it is deleted (default 24h, or prune.grace)")
	cmd.Flags().StringSliceVar(&f.also, "also", nil, "with --remote: other repositories whose refs keep data on the same lode remote")
	return cmd
}

func (a *app) pruneLocal(ctx context.Context, f pruneFlags) error {
	r, st, err := a.openRepoStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	recent, err := a.recentDays(ctx, r, f)
	if err != nil {
		return err
	}
	release, err := a.lockStore(ctx, st)
	if err != nil {
		return err
	}
	defer release()
	res, err := a.localKeep(ctx, r, st, recent, f.verifyRemote)
	if err != nil {
		return err
	}
	stats, err := st.Prune(ctx, res.keep, store.PruneOptions{DryRun: f.dryRun})
	if err != nil {
		return err
	}
	var tidied []string
	if !f.dryRun {
		tidied, _ = st.Tidy(store.DefaultGrace)
	}
	verb := "deleted"
	if f.dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(a.io.Err, "lode: prune: %s %d object(s): %d pack(s) removed, %d rewritten, %s freed of %s",
		verb, stats.ObjectsDropped, stats.PacksDeleted, stats.PacksRepacked, humanBytes(stats.BytesFreed), humanBytes(stats.BytesBefore))
	if len(tidied) > 0 {
		fmt.Fprintf(a.io.Err, "; %d leftover file(s) of killed writers removed", len(tidied))
	}
	fmt.Fprintln(a.io.Err)
	if res.unpushed > 0 {
		fmt.Fprintf(a.io.Err, "lode: prune: kept %d object(s) of older history that %s; 'git lode push --all' uploads them\n", res.unpushed, res.why)
	}
	return nil
}

// prunable is what a local prune with the configured retention would free.
func (a *app) prunable(ctx context.Context, r *repo, st *store.Store) (store.PruneStats, error) {
	recent, err := a.recentDays(ctx, r, pruneFlags{})
	if err != nil {
		return store.PruneStats{}, err
	}
	res, err := a.localKeep(ctx, r, st, recent, false)
	if err != nil {
		return store.PruneStats{}, err
	}
	return st.Prune(ctx, res.keep, store.PruneOptions{DryRun: true})
}

// lockStore takes the store lock for a prune, saying so when it has to
// wait for other lode processes.
func (a *app) lockStore(ctx context.Context, st *store.Store) (func(), error) {
	short, cancel := context.WithTimeout(ctx, time.Second)
	release, err := st.Lock(short)
	cancel()
	if err == nil {
		return release, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	fmt.Fprintln(a.io.Err, "lode: prune: waiting for the git commands writing to the store to finish...")
	return st.Lock(ctx)
}

// recentDays is --recent, else prune.recent, else the default.
func (a *app) recentDays(ctx context.Context, r *repo, f pruneFlags) (int, error) {
	if f.recentSet {
		if f.recent < 0 {
			return 0, usageError("--recent %d: it is a number of days, 0 or more", f.recent)
		}
		return f.recent, nil
	}
	cfg, err := a.loadConfig(ctx, r)
	if err != nil {
		return 0, err
	}
	if cfg.Prune.Recent != nil {
		return *cfg.Prune.Recent, nil
	}
	return defaultRecentDays, nil
}

// keepResult is what a local prune keeps.
type keepResult struct {
	keep     func(cas.ID) bool
	unpushed int    // objects of older history kept because the remote lacks them
	why      string // for the message about them
}

// localKeep decides what a local prune keeps (see the command's help).
// The caller holds the store lock.
func (a *app) localKeep(ctx context.Context, r *repo, st *store.Store, recentDays int, verifyRemote bool) (*keepResult, error) {
	roots, err := a.pruneRoots(ctx, r, recentDays)
	if err != nil {
		return nil, err
	}
	gr, err := gitrepo.Open(r.dir())
	if err != nil {
		return nil, err
	}
	defer gr.Close()
	keep := map[cas.ID]struct{}{}
	kept := map[cas.ID]bool{} // files (by oid) whose objects are in keep
	add := func(set map[cas.ID]struct{}, p pointer.Pointer) {
		for _, id := range localObjects(ctx, st, p) {
			set[id] = struct{}{}
		}
	}
	for _, p := range roots.index {
		if !kept[p.OID] {
			kept[p.OID] = true
			add(keep, p)
		}
	}
	err = gr.TreePointers(ctx, roots.kept, nil, func(_ plumbing.Hash, e gitrepo.Entry) error {
		if e.Err == nil && !kept[e.Pointer.OID] {
			kept[e.Pointer.OID] = true
			add(keep, e.Pointer)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Older history: what it needs may go once the remote has it.
	old := map[cas.ID]struct{}{}
	err = gr.ReachablePointers(ctx, roots.all, nil, func(_ plumbing.Hash, e gitrepo.Entry) error {
		if e.Err == nil && !kept[e.Pointer.OID] {
			add(old, e.Pointer)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id := range keep {
		delete(old, id)
	}
	confirmed, why, err := a.confirmedOnRemote(ctx, r, st, old, verifyRemote)
	if err != nil {
		return nil, err
	}
	res := &keepResult{why: why}
	for id := range old {
		if !confirmed(id) {
			keep[id] = struct{}{}
			res.unpushed++
		}
	}
	res.keep = func(id cas.ID) bool { _, ok := keep[id]; return ok }
	return res, nil
}

// localObjects lists the objects of the file p points to that the store
// holds the list of: its manifest and chunks.
func localObjects(ctx context.Context, st *store.Store, p pointer.Pointer) []cas.ID {
	if p.Size == 0 {
		return nil
	}
	var ids []cas.ID
	if id, ok := manifest.ObjectID(p); ok {
		ids = append(ids, id)
	}
	m, err := filer.Manifest(ctx, st, p)
	if err != nil {
		return ids // not local (or damaged): nothing more of it here
	}
	for _, c := range m.Chunks {
		ids = append(ids, c.ID)
	}
	return ids
}

// confirmedOnRemote returns which of ids the lode remote holds: by its
// indexes, or, with verify, read back and checked.
func (a *app) confirmedOnRemote(ctx context.Context, r *repo, st *store.Store, ids map[cas.ID]struct{}, verify bool) (func(cas.ID) bool, string, error) {
	none := func(cas.ID) bool { return false }
	if len(ids) == 0 {
		return none, "", nil
	}
	rem, err := a.openRemote(ctx, r, st, "")
	if errors.Is(err, errNoRemote) {
		return none, "has no lode remote to be on", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer rem.Close()
	if err := rem.Sync(ctx); err != nil {
		return nil, "", fmt.Errorf("check what the lode remote holds: %w", err)
	}
	if !verify {
		// Decided now: rem is closed on return (its merged index unmapped).
		held := map[cas.ID]bool{}
		for id := range ids {
			if rem.Has(id) {
				held[id] = true
			}
		}
		return func(id cas.ID) bool { return held[id] }, "the lode remote " + rem.String() + " does not hold", nil
	}
	var wants []remotestore.Want
	for id := range ids {
		if !rem.Has(id) {
			continue
		}
		w := remotestore.ChunkWant(id)
		if e, ok := st.Lookup(id); ok && e.Kind == cas.KindManifest {
			w = remotestore.Want{ID: id, Kind: cas.KindManifest, MaxRaw: int64(e.RawLen)}
		}
		wants = append(wants, w)
	}
	good := map[cas.ID]bool{}
	err = rem.Read(ctx, wants, remotestore.ReadOptions{OnFail: func(remotestore.Want, error) {}}, func(o remotestore.Object) error {
		good[o.ID] = true
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("read back from %s: %w", rem, err)
	}
	return func(id cas.ID) bool { return good[id] }, "could not be read back intact from " + rem.String(), nil
}

// pruneRoots are the commits and index entries a local prune keeps the
// data of, and every commit whose history it looks at.
type pruneRoots struct {
	kept  []plumbing.Hash   // tips, worktree HEADs, stashes, recent history
	index []pointer.Pointer // pointers in the worktrees' indexes
	all   []plumbing.Hash   // every ref, HEAD and stash: the history
}

func (a *app) pruneRoots(ctx context.Context, r *repo, recentDays int) (*pruneRoots, error) {
	roots := &pruneRoots{}
	dir := r.dir()
	seen := map[plumbing.Hash]bool{}
	addTo := func(list *[]plumbing.Hash, hex string) {
		if h := plumbing.NewHash(strings.TrimSpace(hex)); !h.IsZero() && !seen[h] {
			seen[h] = true
			*list = append(*list, h)
		}
	}
	out, err := a.git(ctx, dir, nil, "for-each-ref", "--format=%(objectname) %(objecttype) %(*objectname)", "refs/heads", "refs/tags", "refs/remotes")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[1] == "commit":
			addTo(&roots.kept, f[0])
		case len(f) == 3 && f[1] == "tag":
			addTo(&roots.kept, f[2]) // a tag of a commit
		}
	}
	// Stashes: each entry's commit, its index commit and its untracked
	// files commit.
	// (Failing to read any root stops the prune: what it would keep
	// cannot be known.)
	if _, err := a.git(ctx, dir, nil, "rev-parse", "--verify", "--quiet", "refs/stash"); err == nil {
		out, err := a.git(ctx, dir, nil, "log", "-g", "--format=%H %P", "refs/stash", "--")
		if err != nil {
			return nil, fmt.Errorf("read the stash: %w", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			for _, h := range strings.Fields(line) {
				addTo(&roots.kept, h)
			}
		}
	}
	// Worktrees: their HEADs and their indexes.
	out, err = a.git(ctx, dir, nil, "worktree", "list", "--porcelain")
	if err != nil {
		return nil, fmt.Errorf("list worktrees: %w", err)
	}
	var wts []string
	for _, line := range strings.Split(string(out), "\n") {
		if p, ok := strings.CutPrefix(line, "worktree "); ok {
			wts = append(wts, p)
		}
		if line == "bare" && len(wts) > 0 {
			wts = wts[:len(wts)-1] // no index
		}
		if h, ok := strings.CutPrefix(line, "HEAD "); ok {
			addTo(&roots.kept, h)
		}
	}
	for _, wt := range wts {
		if wt == "" {
			continue
		}
		if _, err := os.Stat(wt); errors.Is(err, os.ErrNotExist) {
			continue // a worktree deleted without 'git worktree remove': its HEAD is kept
		}
		ptrs, err := a.indexPointers(ctx, wt)
		if err != nil {
			return nil, err
		}
		roots.index = append(roots.index, ptrs...)
	}
	if h, err := a.git(ctx, dir, nil, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err == nil {
		addTo(&roots.kept, string(h))
	}
	roots.all = append(roots.all, roots.kept...)
	// The recent history of the current branch and the remote-tracking
	// branches.
	if recentDays > 0 {
		since := time.Now().Add(-time.Duration(recentDays) * 24 * time.Hour).Unix()
		args := []string{"rev-list", "--since=" + strconv.FormatInt(since, 10), "--remotes"}
		if _, err := a.git(ctx, dir, nil, "rev-parse", "--verify", "--quiet", "HEAD"); err == nil {
			args = append(args, "HEAD")
		}
		out, err := a.git(ctx, dir, nil, args...)
		if err != nil {
			return nil, fmt.Errorf("list the recent history: %w", err)
		}
		for _, h := range strings.Fields(string(out)) {
			addTo(&roots.kept, h)
		}
	}
	return roots, nil
}

// indexPointers lists the lode pointers in the index of the worktree at
// dir (every stage), whatever the attributes say.
func (a *app) indexPointers(ctx context.Context, dir string) ([]pointer.Pointer, error) {
	out, err := a.git(ctx, dir, nil, "ls-files", "-s", "-z")
	if err != nil {
		return nil, err
	}
	var blobs bytes.Buffer
	n := 0
	for _, rec := range bytes.Split(out, []byte{0}) {
		meta, _, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			continue
		}
		if f := strings.Fields(string(meta)); len(f) == 3 && (f[0] == "100644" || f[0] == "100755") {
			blobs.WriteString(f[1] + "\n")
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	// Only small blobs can be pointers: sizes first, then their content.
	sizes, err := a.git(ctx, dir, blobs.Bytes(), "cat-file", "--batch-check=%(objectname) %(objectsize)")
	if err != nil {
		return nil, err
	}
	var small bytes.Buffer
	for _, line := range strings.Split(string(sizes), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if sz, err := strconv.Atoi(f[1]); err == nil && sz <= pointer.MaxLen {
				small.WriteString(f[0] + "\n")
			}
		}
	}
	if small.Len() == 0 {
		return nil, nil
	}
	contents, err := a.git(ctx, dir, small.Bytes(), "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	var ptrs []pointer.Pointer
	for _, text := range parseBatch(contents) {
		if p, err := pointer.Parse(text); err == nil {
			ptrs = append(ptrs, p)
		}
	}
	return ptrs, nil
}

// pruneRemote is 'git lode prune --remote': it marks what every ref of
// the git remote (and of the --also repositories) needs, and condemns,
// deletes and repacks on the lode remote as transfer.PruneRemote does.
func (a *app) pruneRemote(ctx context.Context, f pruneFlags, args []string) error {
	r, st, err := a.openRepoStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// prune takes no REV: after a bare --remote, an argument anywhere can
	// only be the remote's name.
	if args = a.takeRemoteOperand(ctx, r, &f.remote, args); len(args) == 1 && f.remote.name == "" && a.isGitRemote(ctx, r, args[0]) {
		f.remote.name, args = args[0], nil
	}
	if len(args) > 0 {
		return usageError("%q is not a git remote ('git remote -v' lists them)", args[0])
	}
	if err := a.needGitRemote(ctx, r, f.remote.name); err != nil {
		return err
	}
	grace, err := a.pruneGrace(ctx, r, f)
	if err != nil {
		return err
	}
	gitRemote := f.remote.name
	if gitRemote == "" {
		gitRemote = a.defaultGitRemote(ctx, r.dir())
	}
	rem, err := a.openRemote(ctx, r, st, gitRemote)
	if err != nil {
		return err
	}
	defer rem.Close()
	host, _ := os.Hostname()
	if !f.dryRun {
		release, err := rem.LockPrune(ctx, fmt.Sprintf("git lode prune on %s (pid %d)", host, os.Getpid()), time.Now())
		if err != nil {
			return err
		}
		defer release()
	}
	// Every ref of the git remote, and of the other repositories, brought
	// into a private namespace for the walk.
	sources := append([]string{gitRemote}, f.also...)
	defer a.dropPruneRefs(context.WithoutCancel(ctx), r)
	for i, src := range sources {
		fmt.Fprintf(a.io.Err, "lode: prune --remote: fetching every ref of %s\n", src)
		if _, err := a.git(ctx, r.dir(), nil, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--force", src, fmt.Sprintf("+refs/*:refs/lode-prune/%d/*", i)); err != nil {
			return fmt.Errorf("fetch the refs of %s: %w (every ref that keeps data must be seen before anything is deleted)", src, err)
		}
	}
	out, err := a.git(ctx, r.dir(), nil, "for-each-ref", "--format=%(objectname) %(objecttype) %(*objectname)", "refs/lode-prune")
	if err != nil {
		return err
	}
	var commits []plumbing.Hash
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[1] == "commit":
			commits = append(commits, plumbing.NewHash(f[0]))
		case len(f) == 3 && f[1] == "tag":
			commits = append(commits, plumbing.NewHash(f[2]))
		}
	}
	var ptrs []pointer.Pointer
	if len(commits) > 0 {
		if ptrs, err = a.reachablePointers(ctx, r, commits, nil); err != nil {
			return err
		}
	}
	if err := rem.Sync(ctx); err != nil {
		return err
	}
	live, err := transfer.RemoteLive(ctx, st, rem, ptrs)
	if err != nil {
		return err
	}
	stats, err := transfer.PruneRemote(ctx, rem, func(id cas.ID) bool { _, ok := live[id]; return ok }, transfer.PruneRemoteOptions{
		Grace: grace, DryRun: f.dryRun, TempDir: st.TempDir(),
	})
	if err != nil {
		return fmt.Errorf("prune %s: %w", rem, err)
	}
	verb := "deleted"
	if f.dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(a.io.Err, "lode: prune --remote %s: %d pack(s) in use (%s); %s %d pack(s), freeing %s; %d newly condemned, %d waiting out the grace of %v (%s, freed by a later prune); %d repacked, %d revived\n",
		rem, stats.Packs, humanBytes(stats.BytesBefore), verb, stats.Deleted, humanBytes(stats.BytesFreed), stats.Condemned, stats.Waiting, grace, humanBytes(stats.BytesCondemned), stats.Repacked, stats.Revived)
	return nil
}

// dropPruneRefs deletes the refs a remote prune fetched.
func (a *app) dropPruneRefs(ctx context.Context, r *repo) {
	out, err := a.git(ctx, r.dir(), nil, "for-each-ref", "--format=delete %(refname)", "refs/lode-prune")
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return
	}
	_, _ = a.git(ctx, r.dir(), out, "update-ref", "--stdin")
}

// pruneGrace is --grace, else prune.grace, else the default.
func (a *app) pruneGrace(ctx context.Context, r *repo, f pruneFlags) (time.Duration, error) {
	if f.grace != "" {
		d, err := time.ParseDuration(f.grace)
		if err != nil || d < 0 {
			return 0, usageError("--grace %q: want a duration such as 24h, or 0", f.grace)
		}
		return d, nil
	}
	cfg, err := a.loadConfig(ctx, r)
	if err != nil {
		return 0, err
	}
	if cfg.Prune.Grace != "" {
		return time.ParseDuration(cfg.Prune.Grace)
	}
	return transfer.DefaultGrace, nil
}
