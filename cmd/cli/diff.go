package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/hooks/datadiff"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/spf13/cobra"
)

// workspaceLabel names the work tree side of a diff, as dvc does.
const workspaceLabel = "workspace"

type diffFlags struct {
	md, json  bool
	noFetch   bool
	noRows    bool
	rowsLimit string
	limit     int
	remote    string
}

func (a *app) diffCommand() *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff [REV1 [REV2]] [-- PATH...]",
		Short: "Show the data changes between revisions: files, new bytes, metrics, CSV rows",
		Long: `Shows what changed in the data between two versions: the lode files added,
modified and deleted, with their sizes; the bytes the change adds to the store
(the compressed size of the chunks the new side's files need that the old
side's changed files do not have: what the change really costs); the values
of metrics files, old, new and their difference; and for lode files ending
in .csv, their row counts and header changes.

Like git diff: with no REV it compares HEAD with the work tree (called
"workspace", as in dvc metrics diff; files as they are on disk, whether
staged or not, and untracked files that are not ignored); with one, REV with
the work tree; with two, REV1 with REV2. PATHs after -- limit the diff to
those files and directories.

Metrics files are JSON, YAML or CSV files of numbers (nested keys show as
a.b.c), named in .lode.toml:

  [diff]
  metrics = ["metrics.json", "eval/*.json"]

or, with none named, files called metrics.json, metrics.yaml, metrics.yml
or metrics.csv anywhere. They may be plain git files or lode files. A value
that is not a number is shown as changed when its text changed.

Only chunk lists are read to count new bytes, from the local store or, when
it lacks them, from the lode remote (--no-fetch: never; the figure is then
"unknown" if something is missing). Row counts read the CSV's content,
streaming: always when it is local (the work tree, or all its chunks in the
local store), from the remote only up to --rows-limit; --no-rows skips them.

--md prints GitHub-flavoured Markdown for a pull request comment
('gh pr comment -F', 'cml comment create'); --json prints the stable form
described in docs/FORMAT.md ("Diff output").

Exit status: 0 whether or not there are differences; 1 when a revision or
path does not exist, or a file's pointer is damaged (the diff is printed,
then the files named); 2 on bad usage.`,
		Example: `  git lode diff                      # HEAD against the work tree
  git lode diff main --md >diff.md   # main against the work tree, for a PR comment
  git lode diff v1 v2 -- data/       # two revisions, only data/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			revs, paths := args, []string(nil)
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				revs, paths = args[:dash], args[dash:]
			}
			if len(revs) > 2 {
				return usageError("at most two revisions, got %d (paths go after --)", len(revs))
			}
			if f.md && f.json {
				return usageError("--md and --json exclude each other")
			}
			return a.diff(cmd.Context(), revs, paths, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.md, "md", false, "print GitHub-flavoured Markdown (for a pull request comment)")
	fl.BoolVar(&f.json, "json", false, "print JSON (docs/FORMAT.md, \"Diff output\")")
	fl.BoolVar(&f.noFetch, "no-fetch", false, "read nothing from the lode remote (what the local store lacks is unknown)")
	fl.BoolVar(&f.noRows, "no-rows", false, "do not count the rows of CSV files")
	fl.StringVar(&f.rowsLimit, "rows-limit", "64MiB", "the largest CSV whose content is fetched from the remote to count its rows (local content is always counted)")
	fl.IntVar(&f.limit, "limit", 200, "at most this many files in the table (0: all; --json lists all)")
	fl.StringVar(&f.remote, "remote", "", "the git remote whose lode remote to read (default: the branch's remote, or origin)")
	a.completeGitRemotes(cmd, "remote")
	return cmd
}

// diffSide is one side of a diff as the user named it.
type diffSide struct {
	label  string        // the revision as typed, or "workspace"
	commit plumbing.Hash // zero for the work tree
}

func (a *app) diff(ctx context.Context, revs, paths []string, f diffFlags) error {
	rowsLimit, err := parseByteSize(f.rowsLimit)
	if err != nil {
		return usageError("--rows-limit: %v", err)
	}
	if f.limit < 0 {
		return usageError("--limit must be 0 or more")
	}
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	if len(revs) < 2 {
		if err := r.needWorkTree(); err != nil {
			return fmt.Errorf("%w; name two revisions", err)
		}
	}
	cfg, err := a.loadConfig(ctx, r)
	if err != nil {
		return err
	}
	old := diffSide{label: "HEAD"}
	if len(revs) > 0 {
		old.label = revs[0]
	}
	gr, c, err := a.openRev(r, old.label)
	if err != nil {
		return a.diffRevError(r, old.label, err)
	}
	defer gr.Close()
	old.commit = c
	newSide := diffSide{label: workspaceLabel}
	if len(revs) == 2 {
		newSide.label = revs[1]
		h, err := gr.Resolve(revs[1])
		if err != nil {
			return a.diffRevError(r, revs[1], fmt.Errorf("%w (try a commit, branch or tag that 'git log' shows)", err))
		}
		newSide.commit = h
	}

	rel, err := a.diffPaths(r, paths)
	if err != nil {
		return err
	}
	if err := a.checkDiffPaths(r, gr, old, newSide, rel); err != nil {
		return err
	}

	var changes []datadiff.RawChange
	if newSide.commit.IsZero() {
		changes, err = a.workTreeChanges(ctx, r, old.commit, rel, cfg.Track.Above)
	} else {
		err = datadiff.TreeChanges(ctx, gr, old.commit, newSide.commit, datadiff.PathSelector(rel), func(c datadiff.RawChange) error {
			changes = append(changes, c)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("compare %s with %s: %w", old.label, newSide.label, err)
	}

	st, err := a.openStore(ctx, r)
	if err != nil {
		return err
	}
	defer st.Close()
	var rem *remotestore.Store
	noRemote := "--no-fetch was given"
	if !f.noFetch {
		rem, err = a.openRemote(ctx, r, st, f.remote)
		switch {
		case errors.Is(err, errNoRemote):
			rem, noRemote = nil, "there is no lode remote"
		case err != nil:
			return err
		default:
			defer rem.Close()
		}
	}
	isMetrics := datadiff.IsDefaultMetrics
	if len(cfg.Diff.Metrics) > 0 {
		mf, err := newPathFilter(cfg.Diff.Metrics, nil)
		if err != nil {
			return err
		}
		isMetrics = mf.match
	}
	opts := datadiff.Options{Repo: gr, Store: st, NoRemote: noRemote, IsMetrics: isMetrics, Rows: datadiff.RowsPolicy{Off: f.noRows, FetchLimit: rowsLimit}}
	if rem != nil {
		opts.Remote = rem
	}
	res, err := datadiff.Diff(ctx, changes, opts)
	if err != nil {
		return fmt.Errorf("compare %s with %s: %w", old.label, newSide.label, err)
	}
	if rem != nil {
		a.reportRemoteProblems(rem)
	}
	out := bufio.NewWriter(a.io.Out)
	switch {
	case f.json:
		err = writeDiffJSON(out, old, newSide, res)
	case f.md:
		writeDiffMarkdown(out, old, newSide, res, f.limit)
	default:
		writeDiffText(out, old, newSide, res, f.limit)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if res.Damaged > 0 {
		var names []string
		for _, df := range res.Files {
			for _, v := range []*datadiff.Version{df.Old, df.New} {
				if v != nil && v.Kind == datadiff.KindDamaged {
					names = append(names, fmt.Sprintf("%s (%v)", df.Path, v.Err))
				}
			}
		}
		what := "a damaged pointer, whose data could not be compared"
		if len(names) > 1 {
			what = fmt.Sprintf("%d damaged pointers, whose data could not be compared", len(names))
		}
		return fmt.Errorf("%s: %s (run 'git lode verify' on the revision; restore the pointer from a good commit)", what, strings.Join(names, ", "))
	}
	return nil
}

// diffRevError words a revision that cannot be used, pointing out a path
// given without --.
func (a *app) diffRevError(r *repo, rev string, err error) error {
	if errors.Is(err, errNoCommits) {
		return fmt.Errorf("%w: there is nothing to compare with", err)
	}
	if r.workTree != "" && rev != "HEAD" {
		if _, serr := os.Lstat(rev); serr == nil {
			return usageError("%q is not a revision but a path: put paths after --, as in 'git lode diff -- %s'", rev, rev)
		}
	}
	return fmt.Errorf("revision %q: %w", rev, err)
}

// diffPaths turns the PATH arguments (relative to the current directory,
// as git takes them) into paths from the top of the work tree.
func (a *app) diffPaths(r *repo, paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	var out []string
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if r.workTree == "" {
			out = append(out, strings.Trim(filepath.ToSlash(filepath.Clean(p)), "/"))
			continue
		}
		abs := p
		if !filepath.IsAbs(p) {
			abs = filepath.Join(wd, p)
		}
		if real, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(real, filepath.Base(abs))
		}
		rel, err := filepath.Rel(r.workTree, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, usageError("path %q is outside the work tree %s", p, r.workTree)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out, nil
}

// checkDiffPaths fails for a path that neither side has.
func (a *app) checkDiffPaths(r *repo, gr *gitrepo.Repo, old, new diffSide, paths []string) error {
	for _, p := range paths {
		if p == "." {
			continue
		}
		ok, err := datadiff.PathExists(gr, old.commit, p)
		if err != nil {
			return err
		}
		if !ok && !new.commit.IsZero() {
			if ok, err = datadiff.PathExists(gr, new.commit, p); err != nil {
				return err
			}
		}
		if !ok && new.commit.IsZero() {
			_, err := os.Lstat(filepath.Join(r.workTree, filepath.FromSlash(p)))
			ok = err == nil
		}
		if !ok {
			return fmt.Errorf("path %q is in neither %s nor %s (paths are relative to the current directory)", p, old.label, new.label)
		}
	}
	return nil
}

// workTreeChanges lists the files whose content may differ between the
// tree of commit and the work tree: what `git diff-index` reports (the
// index's blob for a file that is as it was staged, the work-tree file
// otherwise) and the untracked files that are not ignored. above is the
// size rule's threshold (0: none).
func (a *app) workTreeChanges(ctx context.Context, r *repo, commit plumbing.Hash, paths []string, above int64) ([]datadiff.RawChange, error) {
	byPath := map[string]*datadiff.RawChange{}
	var order []string
	add := func(p string) *datadiff.RawChange {
		c, ok := byPath[p]
		if !ok {
			c = &datadiff.RawChange{Path: p}
			byPath[p] = c
			order = append(order, p)
		}
		return c
	}
	var onDisk []string // paths whose new side is the work-tree file
	spec := append([]string{"--"}, paths...)
	args := append([]string{"--literal-pathspecs", "diff-index", "-z", "--raw", "--no-renames", "--ignore-submodules", commit.String()}, spec...)
	err := a.gitStream(ctx, r.workTree, nil, func(br *bufio.Reader) error {
		for {
			meta, err := br.ReadString(0)
			if err == io.EOF && meta == "" {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read git diff-index: %w", err)
			}
			name, err := br.ReadString(0)
			if err != nil {
				return fmt.Errorf("read git diff-index: %w", err)
			}
			// ":oldmode newmode oldsha newsha status"
			fs := strings.Fields(strings.TrimPrefix(strings.TrimSuffix(meta, "\x00"), ":"))
			if len(fs) != 5 {
				return fmt.Errorf("git diff-index printed %q", meta)
			}
			p := strings.TrimSuffix(name, "\x00")
			c := add(p)
			if regularMode(fs[0]) {
				c.Old.Blob = plumbing.NewHash(fs[2])
			}
			switch {
			case fs[4] == "D" || !regularMode(fs[1]):
			case plumbing.NewHash(fs[3]).IsZero():
				c.New.WorkTree = filepath.Join(r.workTree, filepath.FromSlash(p))
				onDisk = append(onDisk, p)
			default:
				c.New.Blob = plumbing.NewHash(fs[3])
			}
		}
	}, args...)
	if err != nil {
		return nil, err
	}
	err = a.gitStream(ctx, r.workTree, nil, func(br *bufio.Reader) error {
		for {
			name, err := br.ReadString(0)
			if err == io.EOF && name == "" {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read git ls-files: %w", err)
			}
			p := strings.TrimSuffix(name, "\x00")
			c := add(p)
			c.New = datadiff.Side{WorkTree: filepath.Join(r.workTree, filepath.FromSlash(p))}
			onDisk = append(onDisk, p)
		}
	}, append([]string{"--literal-pathspecs", "ls-files", "-z", "--others", "--exclude-standard"}, spec...)...)
	if err != nil {
		return nil, err
	}
	if len(onDisk) > 0 {
		lode, sizeRule, err := a.lodeAttrs(ctx, r, onDisk)
		if err != nil {
			return nil, err
		}
		for _, p := range lode {
			c := byPath[p]
			if sizeRule[p] {
				fi, err := os.Lstat(c.New.WorkTree)
				if above <= 0 || err != nil || fi.Size() < above {
					continue
				}
			}
			c.New.Lode = true
		}
	}
	out := make([]datadiff.RawChange, len(order))
	for i, p := range order {
		out[i] = *byPath[p]
	}
	return out, nil
}

// regularMode reports whether a git mode (octal text) is a regular file.
func regularMode(m string) bool { return m == "100644" || m == "100755" }

// --- output ---

func diffCounts(res *datadiff.Result) (added, modified, deleted int) {
	for _, f := range res.Files {
		switch f.Status {
		case datadiff.Added:
			added++
		case datadiff.Modified:
			modified++
		case datadiff.Deleted:
			deleted++
		}
	}
	return
}

// costText words the bytes new to the store.
func costText(c datadiff.Cost) string {
	switch {
	case !c.Known:
		return "unknown (" + c.Unknown + ")"
	case c.Chunks == 0:
		return "nothing"
	case !c.StoredKnown:
		return fmt.Sprintf("%s before compression, %s (compressed size unknown: %s)", humanBytes(c.Raw), chunks(c.Chunks), c.StoredUnknown)
	}
	return fmt.Sprintf("%s (%s before compression, %s)", humanBytes(c.Stored), humanBytes(c.Raw), chunks(c.Chunks))
}

func chunks(n int) string {
	if n == 1 {
		return "1 chunk"
	}
	return fmt.Sprintf("%d chunks", n)
}

func sizeText(v *datadiff.Version) string {
	switch {
	case v == nil:
		return "-"
	case v.Kind == datadiff.KindDamaged:
		return "damaged pointer"
	}
	return humanBytes(v.Size)
}

// rowsText words the row counts of a CSV.
func rowsText(c *datadiff.CSVDiff) string {
	if c == nil {
		return ""
	}
	side := func(s *datadiff.CSVStats, note string) string {
		switch {
		case s != nil:
			return strconv.FormatInt(s.Rows, 10)
		case note != "":
			return "?"
		}
		return "-"
	}
	t := side(c.Old, c.OldNote) + " -> " + side(c.New, c.NewNote)
	if c.Old != nil && c.New != nil {
		t += fmt.Sprintf(" (%+d)", c.New.Rows-c.Old.Rows)
	}
	return t
}

// schemaText words the header change of a CSV.
func schemaText(c *datadiff.CSVDiff) string {
	if c == nil {
		return ""
	}
	var notes []string
	for _, n := range []string{c.OldNote, c.NewNote} {
		if n != "" && !contains(notes, n) {
			notes = append(notes, n)
		}
	}
	switch {
	case c.Schema != nil && c.Schema.Changed():
		notes = append([]string{c.Schema.String()}, notes...)
	case c.Old != nil && c.Old.HeaderTooLong || c.New != nil && c.New.HeaderTooLong:
		notes = append(notes, "header too long to compare")
	}
	return strings.Join(notes, "; ")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// fileNote is what the table says of a file besides its sizes.
func fileNote(f *datadiff.File) string {
	var notes []string
	if f.CSV != nil {
		notes = append(notes, "rows "+rowsText(f.CSV))
		if s := schemaText(f.CSV); s != "" {
			notes = append(notes, s)
		}
	}
	if f.Metrics {
		n := fmt.Sprintf("metrics: %d changed", len(f.MetricChanges))
		if f.MetricsErr != "" {
			n = "metrics: " + f.MetricsErr
		}
		notes = append(notes, n)
	}
	return strings.Join(notes, "; ")
}

func valueText(v *datadiff.Value) string {
	if v == nil {
		return "-"
	}
	return v.Text
}

// deltaText formats a metric's change: six significant digits, no
// exponent for ordinary magnitudes, a sign always.
func deltaText(c datadiff.MetricChange) string {
	if !c.HasDelta {
		if c.Old != nil && c.New != nil {
			return "changed"
		}
		return "-"
	}
	d, _ := strconv.ParseFloat(strconv.FormatFloat(c.Delta, 'g', 6, 64), 64)
	var s string
	if a := math.Abs(d); a >= 1e-6 && a < 1e15 {
		s = strconv.FormatFloat(d, 'f', -1, 64)
	} else {
		s = strconv.FormatFloat(d, 'g', -1, 64)
	}
	if d > 0 {
		s = "+" + s
	}
	return s
}

func writeDiffText(w io.Writer, old, new diffSide, res *datadiff.Result, limit int) {
	ad, mo, de := diffCounts(res)
	fmt.Fprintf(w, "%s -> %s: %d added, %d modified, %d deleted\n", old.label, new.label, ad, mo, de)
	fmt.Fprintf(w, "new to the store: %s\n", costText(res.Cost))
	if len(res.Files) > 0 {
		fmt.Fprintln(w)
	}
	tw := newTable(w)
	for i := range res.Files {
		if limit > 0 && i == limit {
			fmt.Fprintf(w, "  ... and %d more files (--limit 0 shows all)\n", len(res.Files)-limit)
			break
		}
		f := &res.Files[i]
		tw.row("  "+string(f.Status), f.Path, sizeText(f.Old)+" -> "+sizeText(f.New), fileNote(f))
	}
	tw.flush()
	var rows [][]string
	for _, f := range res.Files {
		for _, c := range f.MetricChanges {
			rows = append(rows, []string{f.Path, c.Key, valueText(c.Old), valueText(c.New), deltaText(c)})
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w, "\nMetrics:")
		tw := newTable(w)
		tw.row("  Path", "Metric", old.label, new.label, "Change")
		for _, r := range rows {
			r[0] = "  " + r[0]
			tw.row(r...)
		}
		tw.flush()
	}
}

// table aligns columns of text (tabwriter cannot: cells may hold tabs).
type table struct {
	w    io.Writer
	rows [][]string
}

func newTable(w io.Writer) *table { return &table{w: w} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) flush() {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		fmt.Fprintln(t.w, strings.TrimRight(b.String(), " "))
	}
	t.rows = nil
}

// mdCell escapes text for a cell of a Markdown table.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\n", " ")
	if s == "" {
		return " "
	}
	return s
}

func mdCode(s string) string { return "`" + strings.ReplaceAll(s, "`", "'") + "`" }

func writeDiffMarkdown(w io.Writer, old, new diffSide, res *datadiff.Result, limit int) {
	ad, mo, de := diffCounts(res)
	fmt.Fprintf(w, "**lode diff** %s → %s: %d added, %d modified, %d deleted; **new to the store: %s**\n\n",
		mdCode(old.label), mdCode(new.label), ad, mo, de, mdCell(costText(res.Cost)))
	if len(res.Files) > 0 {
		fmt.Fprintf(w, "| Path | Status | %s | %s | Rows | Notes |\n| --- | --- | --- | --- | --- | --- |\n", mdCell(old.label), mdCell(new.label))
		for i := range res.Files {
			if limit > 0 && i == limit {
				fmt.Fprintf(w, "\n… and %d more files\n", len(res.Files)-limit)
				break
			}
			f := &res.Files[i]
			var notes []string
			if s := schemaText(f.CSV); s != "" {
				notes = append(notes, s)
			}
			if f.Metrics {
				if f.MetricsErr != "" {
					notes = append(notes, "metrics: "+f.MetricsErr)
				} else {
					notes = append(notes, "metrics")
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdCell(f.Path), f.Status, mdCell(sizeText(f.Old)), mdCell(sizeText(f.New)),
				mdCell(strings.ReplaceAll(rowsText(f.CSV), "->", "→")), mdCell(strings.Join(notes, "; ")))
		}
		fmt.Fprintln(w)
	}
	first := true
	for _, f := range res.Files {
		for _, c := range f.MetricChanges {
			if first {
				fmt.Fprintf(w, "| Path | Metric | %s | %s | Change |\n| --- | --- | --- | --- | --- |\n", mdCell(old.label), mdCell(new.label))
				first = false
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", mdCell(f.Path), mdCell(c.Key), mdCell(valueText(c.Old)), mdCell(valueText(c.New)), mdCell(deltaText(c)))
		}
	}
	if !first {
		fmt.Fprintln(w)
	}
}

// The JSON form of a diff (docs/FORMAT.md, "Diff output"). Fields are
// only added, never renamed or removed.
type diffJSON struct {
	Old        diffSideJSON      `json:"old"`
	New        diffSideJSON      `json:"new"`
	Added      int               `json:"added"`
	Modified   int               `json:"modified"`
	Deleted    int               `json:"deleted"`
	Damaged    int               `json:"damaged"`
	NewToStore diffCostJSON      `json:"new_to_store"`
	Files      []diffFileJSON    `json:"files"`
	Metrics    []diffMetricsJSON `json:"metrics"`
}

type diffSideJSON struct {
	Rev    string  `json:"rev"`
	Commit *string `json:"commit"` // null for the work tree
}

type diffCostJSON struct {
	Known       bool   `json:"known"`
	Unknown     string `json:"unknown,omitempty"`
	Chunks      int    `json:"chunks"`
	Bytes       int64  `json:"bytes"`
	StoredBytes *int64 `json:"stored_bytes"` // null when not known
	StoredWhy   string `json:"stored_unknown,omitempty"`
}

type diffVersionJSON struct {
	Kind  string `json:"kind"` // "lode", "plain", "damaged"
	Size  int64  `json:"size"`
	OID   string `json:"oid,omitempty"`
	Blob  string `json:"blob,omitempty"`
	Error string `json:"error,omitempty"`
}

type diffCSVJSON struct {
	OldRows    *int64   `json:"old_rows"`
	NewRows    *int64   `json:"new_rows"`
	OldColumns []string `json:"old_columns"`
	NewColumns []string `json:"new_columns"`
	Schema     string   `json:"schema,omitempty"`
	OldNote    string   `json:"old_note,omitempty"`
	NewNote    string   `json:"new_note,omitempty"`
}

type diffFileJSON struct {
	Path         string           `json:"path"`
	Status       string           `json:"status"`
	Old          *diffVersionJSON `json:"old"`
	New          *diffVersionJSON `json:"new"`
	Metrics      bool             `json:"metrics"`
	MetricsError string           `json:"metrics_error,omitempty"`
	CSV          *diffCSVJSON     `json:"csv,omitempty"`
}

type diffMetricsJSON struct {
	Path   string   `json:"path"`
	Metric string   `json:"metric"`
	Old    *string  `json:"old"`
	New    *string  `json:"new"`
	Change *float64 `json:"change"`
}

func writeDiffJSON(w io.Writer, old, new diffSide, res *datadiff.Result) error {
	side := func(s diffSide) diffSideJSON {
		j := diffSideJSON{Rev: s.label}
		if !s.commit.IsZero() {
			h := s.commit.String()
			j.Commit = &h
		}
		return j
	}
	out := diffJSON{Old: side(old), New: side(new), Damaged: res.Damaged, Files: []diffFileJSON{}, Metrics: []diffMetricsJSON{}}
	out.Added, out.Modified, out.Deleted = diffCounts(res)
	c := res.Cost
	out.NewToStore = diffCostJSON{Known: c.Known, Unknown: c.Unknown, Chunks: c.Chunks, Bytes: c.Raw, StoredWhy: c.StoredUnknown}
	if c.Known && c.StoredKnown {
		n := c.Stored
		out.NewToStore.StoredBytes = &n
	}
	version := func(v *datadiff.Version) *diffVersionJSON {
		if v == nil {
			return nil
		}
		j := &diffVersionJSON{Size: v.Size, Blob: v.Blob}
		switch v.Kind {
		case datadiff.KindLode:
			j.Kind, j.OID = "lode", v.Pointer.OID.String()
		case datadiff.KindDamaged:
			j.Kind, j.Error, j.Size = "damaged", v.Err.Error(), 0
		default:
			j.Kind = "plain"
		}
		return j
	}
	for i := range res.Files {
		f := &res.Files[i]
		fj := diffFileJSON{Path: f.Path, Status: string(f.Status), Old: version(f.Old), New: version(f.New), Metrics: f.Metrics, MetricsError: f.MetricsErr}
		if cd := f.CSV; cd != nil {
			cj := &diffCSVJSON{OldNote: cd.OldNote, NewNote: cd.NewNote}
			if cd.Old != nil {
				cj.OldRows, cj.OldColumns = &cd.Old.Rows, cd.Old.Columns
			}
			if cd.New != nil {
				cj.NewRows, cj.NewColumns = &cd.New.Rows, cd.New.Columns
			}
			if cd.Schema != nil {
				cj.Schema = cd.Schema.String()
			}
			fj.CSV = cj
		}
		out.Files = append(out.Files, fj)
		for _, mc := range f.MetricChanges {
			mj := diffMetricsJSON{Path: f.Path, Metric: mc.Key}
			if mc.Old != nil {
				mj.Old = &mc.Old.Text
			}
			if mc.New != nil {
				mj.New = &mc.New.Text
			}
			if mc.HasDelta {
				// Rounded to 12 significant digits: 0.875-0.81 is
				// 0.065, not 0.06499999999999995.
				d, _ := strconv.ParseFloat(strconv.FormatFloat(mc.Delta, 'g', 12, 64), 64)
				mj.Change = &d
			}
			out.Metrics = append(out.Metrics, mj)
		}
	}
	return writeJSONTo(w, out)
}

// writeJSONTo writes v as indented JSON. Paths are not HTML-escaped.
func writeJSONTo(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
