package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/hooks/filter"
	"github.com/lodevcs/lode/hooks/lfs"
	"github.com/lodevcs/lode/hooks/migrate"
	"github.com/spf13/cobra"
)

// migrateFlags are the flags of migrate import and migrate info.
type migrateFlags struct {
	fromLFS    bool
	fromDVC    bool
	above      string
	dvcCache   string
	rewrite    bool
	everything bool
	include    []string
	dryRun     bool
}

func (a *app) migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Come over from Git LFS or DVC, or move large plain git files to lode",
		Long: `Moves a repository's large files from another tool to lode. See
'git lode migrate import --help' and 'git lode migrate info --help'.`,
		Args: maxArgs(0),
	}
	cmd.AddCommand(a.migrateImportCommand(), a.migrateInfoCommand())
	return cmd
}

func (a *app) migrateImportCommand() *cobra.Command {
	var f migrateFlags
	cmd := &cobra.Command{
		Use:   "import (--from-lfs | --above SIZE) [--everything | --include GLOB...] [REV-RANGE...] | import --from-dvc [PATH.dvc...] | import --from-dvc --rewrite-history [--everything | REV-RANGE...]",
		Short: "Make Git LFS or DVC files lode files",
		Long: `Rewrites the history of the current branch (or of REV-RANGE: branches,
tags, ranges such as v1.0..main; --everything: every local branch and tag)
so that every file git holds as a Git LFS pointer becomes a lode file: its
content is read from Git LFS's store (.git/lfs/objects; objects it lacks
are downloaded with 'git lfs smudge' when git-lfs is installed), checked
against its SHA-256, and stored in lode's store; git gets a lode pointer.
In .gitattributes, "filter=lfs diff=lfs merge=lfs" becomes "filter=lode
-text". Commit messages, authors and dates are kept; annotated tags are
rewritten (signatures are dropped: what they signed changed).

With --include GLOB (repeatable; paths and globs as in 'git lode pull -I'),
only files matching one are converted; the others keep their Git LFS
pointers, which lode still reads through Git LFS's store.

Nothing moves until the whole history is rewritten and its data stored:
then every rewritten ref moves at once, its old value kept as
refs/lode-migrate/original/<ref> (remove those refs once you are done).
A migration that fails or is interrupted leaves every ref as it was. The
map of old to new commits is printed ("old new" per line) and kept in
.git/lode/migrate/<time>.map. The work tree must be clean; it is checked
out again at the end.

Afterwards, publish the rewritten history: 'git lode push' sends the
data, 'git push --force-with-lease origin <branches>' (and --tags) the
commits; teammates then clone again, or run 'git fetch' and 'git reset
--hard origin/<branch>' on a clean tree.

--dry-run (or 'git lode migrate info') reads the history, changes
nothing, and reports what would be converted.

--above SIZE rewrites the same way, but converts plain git files of at
least SIZE bytes (at included paths; not git's own dot files), as 'git lfs
migrate import --above' does, and gives every commit the size rule of
'git lode track --above SIZE': "* filter=lode-above" first in the root
.gitattributes and [track] above in .lode.toml, so that each rewritten
commit checks out its large files through lode and its small ones as git
stores them.

--from-dvc [PATH.dvc...] (default: every .dvc file in git) makes the
outputs of those .dvc files lode files at the same paths, in a new commit
(history is left as it is): each file's content is taken from the work
tree where it has the md5 the .dvc file records, else from the DVC cache
(.dvc/cache, or --dvc-cache DIR; DVC 3's files/md5/xx/... layout and DVC
2's xx/...; directories through their .dir listings), checked. The .dvc
files are removed, the lines DVC wrote for the outputs in .gitignore are
dropped, and .gitattributes gets "/PATH filter=lode -text" ("/DIR/**" for
a directory). dvc.yaml, dvc.lock, metrics and the DVC cache stay as they
are. Objects the cache lacks must be fetched with DVC first ('dvc pull').

--from-dvc --rewrite-history [--everything | REV-RANGE...] rewrites the
history instead, as --from-lfs does (the same REV-RANGE and --everything,
--dry-run, backups under refs/lode-migrate/original/, the map, a clean
work tree; publish it the same way): in every commit, each .dvc file is
replaced by lode files at its outputs' paths, with the content that
commit's .dvc file records (a file output is one lode file; a directory
output, whose md5 ends in .dir, one per file of its listing in the DVC
cache). Every object is read from the DVC cache (not the work tree), once,
and checked against its md5. In each commit, DVC's "/NAME" lines for those
outputs are dropped from .gitignore (an emptied .gitignore goes) and the
root .gitattributes gets the lines above; dvc.yaml, dvc.lock, .dvc/config
and metrics stay. A commit whose data the cache lacks stops the migration
before any ref moves, naming the commit, the file and its md5: fetch every
version first with 'dvc fetch --all-commits' (from DVC's own remote).`,
		Example: `  git lode migrate import --from-lfs --everything         # all branches and tags, from Git LFS
  git lode migrate import --from-lfs --include "*.csv" main~5..main
  git lode migrate import --above 10MiB                     # large plain git files, current branch
  git lode migrate import --from-dvc                        # one new commit: .dvc outputs become lode files
  dvc fetch --all-commits --all-branches --all-tags         # every version the history names, then:
  git lode migrate import --from-dvc --rewrite-history --dry-run --everything
  git lode migrate import --from-dvc --rewrite-history --everything
  git lode push && git push --force-with-lease origin --all && git push --force origin --tags`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.above != "" && (f.fromLFS || f.fromDVC):
				return usageError("--above converts plain git files: not with --from-lfs or --from-dvc")
			case f.above != "":
				return a.migrateLFS(cmd.Context(), f, args)
			case f.fromLFS && f.fromDVC:
				return usageError("--from-lfs or --from-dvc, not both")
			case f.rewrite && !f.fromDVC:
				return usageError("--rewrite-history goes with --from-dvc (--from-lfs and --above always rewrite history)")
			case f.fromDVC && len(f.include) > 0:
				return usageError("--include goes with --from-lfs and --above")
			case f.fromDVC && f.rewrite:
				return a.migrateDVCHistory(cmd.Context(), f, args)
			case f.fromDVC:
				if f.everything {
					return usageError("--everything goes with --rewrite-history (without it, --from-dvc makes one new commit)")
				}
				return a.migrateDVC(cmd.Context(), f, args)
			case !f.fromLFS:
				return usageError("say what to convert: --from-lfs, --from-dvc or --above SIZE")
			}
			return a.migrateLFS(cmd.Context(), f, args)
		},
	}
	a.migrateFlags(cmd, &f)
	cmd.Flags().BoolVar(&f.fromLFS, "from-lfs", false, "convert Git LFS pointers")
	cmd.Flags().BoolVar(&f.fromDVC, "from-dvc", false, "make the outputs of .dvc files lode files, in a new commit")
	cmd.Flags().StringVar(&f.dvcCache, "dvc-cache", "", "the DVC cache directory (default .dvc/cache)")
	cmd.Flags().BoolVar(&f.rewrite, "rewrite-history", false, "with --from-dvc: rewrite every commit of REV-RANGE (default the current branch) instead of making a new one")
	cmd.Flags().StringVar(&f.above, "above", "", "make plain git files of at least SIZE (10MiB, 500k) lode files, and set the size rule")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "change nothing; report what would be converted")
	return cmd
}

func (a *app) migrateInfoCommand() *cobra.Command {
	var f migrateFlags
	cmd := &cobra.Command{
		Use:   "info [--everything | --include GLOB...] [REV-RANGE...]",
		Short: "Report what 'migrate import --from-lfs' would convert",
		Long: `Reads the history that 'git lode migrate import --from-lfs' would rewrite
(the same arguments) and reports the commits, the files held as Git LFS
pointers, their distinct objects and total size, how many of those Git
LFS's local store lacks, and the .gitattributes files that would change.
Nothing is written.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.fromLFS, f.dryRun = true, true
			return a.migrateLFS(cmd.Context(), f, args)
		},
	}
	a.migrateFlags(cmd, &f)
	return cmd
}

func (a *app) migrateFlags(cmd *cobra.Command, f *migrateFlags) {
	cmd.Flags().BoolVar(&f.everything, "everything", false, "every local branch and tag")
	cmd.Flags().StringArrayVarP(&f.include, "include", "I", nil, "convert only files matching this path or glob (repeatable)")
}

// migrateRevs is what fast-export exports for args: the current branch
// by default; whether they are a range.
func (a *app) migrateRevs(ctx context.Context, r *repo, f migrateFlags, args []string) ([]string, bool, error) {
	if f.everything {
		if len(args) > 0 {
			return nil, false, usageError("--everything rewrites every branch and tag: name no REV-RANGE with it")
		}
		return []string{"--branches", "--tags"}, false, nil
	}
	if len(args) == 0 {
		out, err := a.git(ctx, r.dir(), nil, "symbolic-ref", "-q", "HEAD")
		if err != nil {
			return nil, false, fmt.Errorf("HEAD is not on a branch: name the branches to rewrite, or use --everything")
		}
		return []string{strings.TrimSpace(string(out))}, false, nil
	}
	var revs []string
	isRange := false
	for _, arg := range args {
		if strings.HasPrefix(arg, "-") {
			return nil, false, usageError("unknown option %q", arg)
		}
		if strings.Contains(arg, "..") || strings.HasPrefix(arg, "^") {
			isRange = true
			revs = append(revs, arg)
			continue
		}
		// A branch or tag, given by its short name: fast-export must
		// see the ref's full name.
		out, err := a.git(ctx, r.dir(), nil, "rev-parse", "--symbolic-full-name", arg)
		full := strings.TrimSpace(string(out))
		if err != nil || !strings.HasPrefix(full, "refs/") {
			return nil, false, usageError("%q is not a branch or tag (migrate rewrites refs; name a branch, a tag or a range A..BRANCH)", arg)
		}
		revs = append(revs, full)
	}
	return revs, isRange, nil
}

func (a *app) migrateLFS(ctx context.Context, f migrateFlags, args []string) error {
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	revs, isRange, err := a.migrateRevs(ctx, r, f, args)
	if err != nil {
		return err
	}
	var include *pathFilter
	if len(f.include) > 0 {
		if include, err = newPathFilter(f.include, nil); err != nil {
			return err
		}
	}
	src := a.lfsSource(r).source(ctx)
	rw := &migrate.Rewriter{}
	if include != nil {
		rw.Include = include.match
	}
	o := migrate.Options{Dir: r.dir(), Revs: revs, Range: isRange, Rewriter: rw, DryRun: f.dryRun}
	if f.above != "" {
		return a.migrateAbove(ctx, r, f, o, include)
	}
	if f.dryRun {
		missing, missingBytes := 0, int64(0)
		rw.Convert = func(ctx context.Context, path string, p lfs.Pointer) ([]byte, error) {
			if !lfs.Has(src.Dir, p) {
				missing++
				missingBytes += p.Size
			}
			return p.Encode(), nil
		}
		out, err := migrate.Run(ctx, o)
		if err != nil {
			return fmt.Errorf("read the history: %w", err)
		}
		w := a.io.Out
		fmt.Fprintf(w, "commits            %d\n", out.Stats.Commits)
		fmt.Fprintf(w, "Git LFS files      %d (file versions held as Git LFS pointers)\n", out.LFSFiles)
		fmt.Fprintf(w, "Git LFS objects    %d, %s\n", out.LFSObjects, humanBytes(out.LFSBytes))
		fmt.Fprintf(w, "not in %s  %d, %s", filepath.Join(src.Dir, "objects"), missing, humanBytes(missingBytes))
		if missing > 0 {
			if gitLFSInstalled() {
				fmt.Fprint(w, " (the import downloads them with git-lfs; 'git lfs fetch --all' gets them first)")
			} else {
				fmt.Fprintf(w, " (the import needs them: %s)", installGitLFS)
			}
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, ".gitattributes     %d version(s) to rewrite\n", out.Attributes)
		if out.Excluded > 0 {
			fmt.Fprintf(w, "not included       %d file version(s) keep their Git LFS pointers\n", out.Excluded)
		}
		if out.Unsupported > 0 {
			fmt.Fprintf(w, "unsupported        %d Git LFS pointer(s) with extensions, kept as they are\n", out.Unsupported)
		}
		if include != nil {
			include.warnUnmatched(a.io.Err, "Git LFS file")
		}
		return nil
	}

	s, flt, err := a.migrationStore(ctx, r)
	if err != nil {
		return err
	}
	defer s.Close()
	rw.Convert = func(ctx context.Context, path string, p lfs.Pointer) ([]byte, error) {
		obj, err := src.Open(ctx, p)
		if err != nil {
			return nil, err
		}
		defer obj.Close()
		c := lfs.NewChecker(obj, p)
		var ptr bytes.Buffer
		if err := flt.Clean(ctx, c, &ptr); err != nil {
			return nil, fmt.Errorf("store it: %w", err)
		}
		if err := c.Check(); err != nil {
			return nil, err
		}
		return ptr.Bytes(), nil
	}
	o.Flush = flt.Flush
	return a.finishMigration(ctx, r, s, o, include, func(out *migrate.Outcome) string {
		return fmt.Sprintf("%d file version(s) from Git LFS (%d object(s), %s) are lode files; %d .gitattributes version(s) rewritten", out.LFSFiles, out.LFSObjects, humanBytes(out.LFSBytes), out.Attributes)
	})
}

// migrationStore checks that a history rewrite may start (migrateReady)
// and opens the store and the filter that clean what it converts, with
// shared packs (Flush publishes them). The caller closes the store.
func (a *app) migrationStore(ctx context.Context, r *repo) (*store.Store, *filter.Filter, error) {
	if err := a.migrateReady(ctx, r); err != nil {
		return nil, nil, err
	}
	s, err := a.openStore(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return s, &filter.Filter{Store: s, Batch: true}, nil
}

// migrateReady checks that a history rewrite may start: a clean work
// tree, and lode's filter, through which it is checked out again.
func (a *app) migrateReady(ctx context.Context, r *repo) error {
	if r.workTree == "" {
		return nil
	}
	out, err := a.git(ctx, r.workTree, nil, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(out)) > 0 {
		return fmt.Errorf("the work tree has changes: commit or stash them first (migrate rewrites history and checks the work tree out again)")
	}
	if !a.filterConfigured(ctx, r) {
		return fmt.Errorf("lode's filter is not configured: run 'git lode install' first (the rewritten files check out through it)")
	}
	return nil
}

// finishMigration runs the rewrite o, prints and keeps the map, says
// what moved (what: the summary of the conversion) and checks the work
// tree out again.
func (a *app) finishMigration(ctx context.Context, r *repo, s *store.Store, o migrate.Options, include *pathFilter, what func(*migrate.Outcome) string) error {
	rw := o.Rewriter
	p := a.progress("migrate")
	rw.Progress = func(st migrate.Stats) {
		p.printf("%d commits, %s converted", st.Commits, humanBytes(st.LFSBytes+st.LargeBytes+st.DVCBytes))
	}
	start := time.Now()
	out, err := migrate.Run(ctx, o)
	p.done()
	if err != nil {
		return fmt.Errorf("%w\nno ref was changed", err)
	}
	if include != nil {
		include.warnUnmatched(a.io.Err, "file converted")
	}
	var m bytes.Buffer
	for _, c := range out.Map {
		fmt.Fprintf(&m, "%s %s\n", c.Old, c.New)
	}
	a.io.Out.Write(m.Bytes())
	mapPath := store.MigrateMapPath(s.Dir(), start)
	err = os.MkdirAll(filepath.Dir(mapPath), 0o755)
	if err == nil {
		err = os.WriteFile(mapPath, m.Bytes(), 0o644)
	}
	if err != nil {
		fmt.Fprintf(a.io.Err, "git-lode: warning: keep the commit map: %v\n", err)
	}
	fmt.Fprintf(a.io.Err, "lode: rewrote %d commit(s) in %s: %s\n", out.Stats.Commits, time.Since(start).Round(time.Millisecond), what(out))
	for _, mv := range out.Refs {
		fmt.Fprintf(a.io.Err, "lode: %s: %s -> %s (old value in %s%s)\n", mv.Ref, mv.Old[:12], mv.New[:12], migrate.BackupPrefix, strings.TrimPrefix(mv.Ref, "refs/"))
	}
	fmt.Fprintf(a.io.Err, "lode: the commit map is in %s\n", mapPath)
	if out.Unsupported > 0 {
		fmt.Fprintf(a.io.Err, "git-lode: warning: %d Git LFS pointer(s) use extensions lode cannot apply and were kept as they are\n", out.Unsupported)
	}
	if len(out.Refs) > 0 && r.workTree != "" {
		if _, err := a.git(ctx, r.workTree, nil, "reset", "--hard", "--quiet"); err != nil {
			return fmt.Errorf("check the work tree out again (the history is rewritten; run 'git reset --hard' yourself): %w", err)
		}
	}
	if len(out.Refs) > 0 {
		fmt.Fprintf(a.io.Err, "lode: to publish it: 'git lode push', then 'git push --force-with-lease' of the branches (and --tags); see 'git lode migrate import --help'\n")
	}
	return nil
}

// migrateAbove is 'migrate import --above SIZE': plain git blobs of at
// least SIZE become lode files, and every commit gets the size rule.
func (a *app) migrateAbove(ctx context.Context, r *repo, f migrateFlags, o migrate.Options, include *pathFilter) error {
	n, err := parseByteSize(f.above)
	if err != nil || n <= pointer.MaxLen {
		return usageError("--above %q: want a size larger than %d bytes, such as 10MiB", f.above, pointer.MaxLen)
	}
	rw := o.Rewriter
	rw.Above = n
	rw.RootNames = []string{".gitattributes", ".lode.toml"}
	rw.EditRoot = func(name string, old []byte) ([]byte, error) {
		if name == ".gitattributes" {
			var lines []string
			if len(old) > 0 {
				lines = strings.Split(strings.TrimSuffix(string(old), "\n"), "\n")
			}
			return []byte(strings.Join(withSizeRule(lines), "\n") + "\n"), nil
		}
		data := setTOMLKey(old, "track", "above", strconv.Quote(f.above))
		var after config
		after.apply(&configSource{name: ".lode.toml", data: data, repo: true})
		if after.Track.Above != n {
			return nil, fmt.Errorf("could not set [track] above in this commit's .lode.toml safely")
		}
		return data, nil
	}
	if f.dryRun {
		rw.ConvertBlob = func(ctx context.Context, path string, r io.Reader, size int64) ([]byte, error) { return nil, nil }
		out, err := migrate.Run(ctx, o)
		if err != nil {
			return fmt.Errorf("read the history: %w", err)
		}
		fmt.Fprintf(a.io.Out, "commits            %d\nfiles at or above  %d (file versions), %d distinct, %s\n", out.Stats.Commits, out.LargeFiles, out.LargeBlobs, humanBytes(out.LargeBytes))
		return nil
	}
	s, flt, err := a.migrationStore(ctx, r)
	if err != nil {
		return err
	}
	defer s.Close()
	rw.ConvertBlob = func(ctx context.Context, path string, r io.Reader, size int64) ([]byte, error) {
		var ptr bytes.Buffer
		if err := flt.Clean(ctx, r, &ptr); err != nil {
			return nil, fmt.Errorf("store it: %w", err)
		}
		return ptr.Bytes(), nil
	}
	o.Flush = flt.Flush
	return a.finishMigration(ctx, r, s, o, include, func(out *migrate.Outcome) string {
		return fmt.Sprintf("%d file version(s) of %s or more (%d blob(s), %s) are lode files; the size rule is set in every commit", out.LargeFiles, humanBytes(n), out.LargeBlobs, humanBytes(out.LargeBytes))
	})
}
