package main

// The many-files section: bench/manyfiles.sh records the same kinds of
// lines as run.sh (time, size, count, check, meta) in manyfiles.tsv; this
// writes manyfiles.md and manyfiles.json. With -base (the JSON of an
// earlier run, e.g. the 100,000-file run when this one has 1,000,000 tiny
// files) every step is also compared with the same step there: time ratio
// and cost per file.
//
// Three tools: lode, Git LFS ("lfs") and plain git with no filter ("git",
// "git alone": the files as ordinary blobs). git alone is the floor of the
// steps dominated by git's own per-file work (add, status, commit, push,
// clone, checkout, git pull): lode / git near 1 means lode adds little to
// what git itself costs.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// mfStep is one timed step of bench/manyfiles.sh.
type mfStep struct {
	Measure string `json:"measure"`
	Label   string `json:"label"`
}

var mfSteps = []mfStep{
	{"add", "`git add data` + `git commit`, all files"},
	{"status_clean", "`git status`, clean"},
	{"status_touched", "`git status`, one file touched (mtime only)"},
	{"status_changed", "`git status`, one file changed (same size)"},
	{"commit_one", "`git add data` + `git commit`, one file changed"},
	{"commit_1pct", "`git add data` + `git commit`, 1% of the files rewritten"},
	{"push", "`git push` of every commit"},
	{"push_noop", "`git push`, nothing new"},
	{"clone", "`git clone` (checkout included)"},
	{"checkout_prev", "`git checkout HEAD~1` (1% of the files differ)"},
	{"checkout_back", "`git checkout main` (back)"},
	{"pull_git", "`git pull`, nothing new (in the clone)"},
	{"pull_tool", "then `git lode pull` / `git lfs pull`"},
	{"verify", "`git lode verify` / `git lfs fsck` / `git fsck`"},
	{"mount_ready", "`git lode mount HEAD DIR` until ready"},
	{"mount_find", "`find MOUNT -type f \\| wc -l`, fresh mount"},
	{"mount_cat", "`find data -type f -print0 \\| xargs -0 cat`, through the mount (first read)"},
	{"mount_cat_again", "same, again (kernel page cache)"},
	{"worktree_cat", "same command in the checked-out work tree"},
}

type mfCompare struct {
	Measure     string  `json:"measure"`
	Tool        string  `json:"tool"`
	BaseMedian  float64 `json:"base_median_s"`
	Median      float64 `json:"median_s"`
	TimeRatio   float64 `json:"time_ratio"`
	PerFileCost float64 `json:"cost_per_file_ratio"`
}

// mfJSON is manyfiles.json. Ratios is LFS median / lode median per step;
// OverGit is lode median / git alone's (1: lode at git's own floor).
type mfJSON struct {
	Meta    map[string]string             `json:"meta"`
	Timings map[string]map[string]*series `json:"timings"`
	Sizes   map[string]int64              `json:"sizes_bytes"`
	Counts  map[string]int64              `json:"counts,omitempty"`
	Checks  map[string]check              `json:"checks"`
	Ratios  map[string]float64            `json:"lfs_over_lode,omitempty"`
	OverGit map[string]float64            `json:"lode_over_git,omitempty"`
	Base    string                        `json:"base,omitempty"`
	VsBase  []mfCompare                   `json:"vs_base,omitempty"`
}

func manyFiles(r *results, basePath, mdPath, jsonPath string, stdout io.Writer) error {
	out := mfJSON{Meta: r.Meta, Timings: r.Timings, Sizes: r.Sizes, Counts: r.Counts, Checks: r.Checks,
		Ratios: map[string]float64{}, OverGit: map[string]float64{}}
	for _, st := range mfSteps {
		if v, ok := r.speedup(st.Measure); ok {
			out.Ratios[st.Measure] = v
		}
		if v, ok := r.overGit(st.Measure); ok {
			out.OverGit[st.Measure] = v
		}
	}
	if basePath != "" {
		b, err := os.ReadFile(basePath)
		if err != nil {
			return err
		}
		var base mfJSON
		if err := json.Unmarshal(b, &base); err != nil {
			return fmt.Errorf("%s: %w", basePath, err)
		}
		out.Base = fmt.Sprintf("%s (%s %s files, %s)", basePath, base.Meta["files"], base.Meta["file_size"], base.Meta["date"])
		out.VsBase = compareBase(r, &base)
	}
	js, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	writeManyMarkdown(&md, r, &out)
	if err := os.WriteFile(mdPath, []byte(md.String()), 0o644); err != nil {
		return err
	}
	writeManySummary(stdout, r, &out)
	return nil
}

// overGit is lode's median time / git alone's (>= 1 when git is the floor).
func (r *results) overGit(measure string) (float64, bool) {
	a, b := r.series(measure, "lode"), r.series(measure, "git")
	if a == nil || b == nil || b.Median <= 0 {
		return 0, false
	}
	return a.Median / b.Median, true
}

// hasTool reports whether tool has any timed step.
func (r *results) hasTool(tool string) bool {
	for _, m := range r.Timings {
		if m[tool] != nil {
			return true
		}
	}
	return false
}

// compareBase sets each step's median against the same step of base.
func compareBase(r *results, base *mfJSON) []mfCompare {
	n, _ := strconv.ParseFloat(r.Meta["files"], 64)
	bn, _ := strconv.ParseFloat(base.Meta["files"], 64)
	var cs []mfCompare
	for _, st := range mfSteps {
		for _, tool := range []string{"lode", "lfs", "git"} {
			s := r.series(st.Measure, tool)
			var b *series
			if m := base.Timings[st.Measure]; m != nil {
				b = m[tool]
			}
			if s == nil || b == nil || b.Median <= 0 || n <= 0 || bn <= 0 {
				continue
			}
			ratio := s.Median / b.Median
			cs = append(cs, mfCompare{st.Measure, tool, b.Median, s.Median, ratio, ratio / (n / bn)})
		}
	}
	return cs
}

func (r *results) count(name string) string {
	if v, ok := r.Counts[name]; ok {
		return strconv.FormatInt(v, 10)
	}
	return "-"
}

func (r *results) kib(name string) string {
	if v, ok := r.Counts[name]; ok {
		return fmt.Sprintf("%.1f", float64(v)/1024)
	}
	return "-"
}

func (r *results) bytes(name string) string {
	if v, ok := r.Sizes[name]; ok {
		return human(v)
	}
	return "-"
}

func (r *results) rssMiB(measure, tool string) string {
	if s := r.series(measure, tool); s != nil {
		return fmt.Sprintf("%.1f", s.MaxRSSMiB)
	}
	return "-"
}

func writeManyMarkdown(w io.Writer, r *results, out *mfJSON) {
	m := r.Meta
	nfiles, _ := strconv.ParseFloat(m["files"], 64)
	fmt.Fprintf(w, "## 8. Many files (`bench/manyfiles.sh`): %s files, %s\n\n", m["files"], map[string]string{"small": "2-24 KiB each", "tiny": "16-256 bytes each"}[m["file_size"]])
	fmt.Fprintf(w, "Generated by `bench/manyfiles.sh` on %s, lode %s (tree %s), git %s, Git LFS %s; %s, %s cores, %s, %s, %s. "+
		"Steps: %s. Page cache: %s.\n\n",
		m["date"], m["lode"], m["lode_commit"], m["git"], m["git_lfs"], m["cpu"], m["nproc"], m["ram"], m["kernel"], m["fs"], m["steps"], m["cache"])
	fmt.Fprintf(w, "Data (`gen files`, seed %s): %s bytes in all, half CSV-like text, half random bytes, folders of 100 (%s). "+
		"Each tool in its own fresh repositories (`git lode install --local` + `git lode track \"*.csv\" \"*.bin\"`, or `git lfs install --local` + `git lfs track`), "+
		"pushing to a bare repository by path (lode: to `<bare>/lode`, its embedded default remote; Git LFS: its standalone file transfer, which here "+orDash(m["lfs_transfer"])+"); clones smudge through "+
		"the global filters. Quick steps are medians of %s repetitions, slow ones (add, push, clone, verify, reading every file) of %s; "+
		"the order of the tools rotates from step to step. Ratio = LFS median / lode median (> 1: lode is faster).\n\n",
		m["seed"], strconv.FormatInt(r.Sizes["data_bytes"], 10), m["layout"], m["reps"], m["manyfiles_reps"])
	withGit := r.hasTool("git")
	if withGit {
		fmt.Fprintf(w, "**git alone** is plain git in a repository of its own, with no filter and no attributes: the same files stored as ordinary blobs, "+
			"pushed to its own bare repository by path, and only `git pull` in step 7. It shows git's own per-file work (the index, a stat of every file, "+
			"the trees, writing the files out), which lode and Git LFS pay alike: the floor of status, the commits, clone, checkout and the no-op push and pull. "+
			"**lode / git** = lode median / git alone's (1.00: lode adds nothing to what git itself costs). In the add and the push git alone also compresses "+
			"the content itself (zlib, then a delta-compressed pack), the work the filters do in lode's and LFS's place, so there it is a reference, "+
			"not a floor (lode / git may be below 1); likewise `git fsck` for verify.\n\n")
	} else if m["git_alone"] == "0" {
		fmt.Fprintf(w, "git alone (plain git, no filter) was not run (BENCH_GIT=0).\n\n")
	}
	if m["nofile"] != "" {
		fmt.Fprintf(w, "Open-file limit of the run (soft/hard, `ulimit -n`): %s.\n\n", m["nofile"])
	}
	if m["lfs"] == "0" {
		fmt.Fprintf(w, "Git LFS was not run (BENCH_LFS=0).\n\n")
	}
	var failed []string
	for k, c := range r.Checks {
		if strings.HasPrefix(k, "failed_") {
			failed = append(failed, fmt.Sprintf("`%s`: %s", strings.TrimPrefix(k, "failed_"), c.Detail))
		}
	}
	slices.Sort(failed)
	if len(failed) > 0 {
		fmt.Fprintf(w, "**Steps that failed** (the tool was left out of the later steps):\n\n")
		for _, f := range failed {
			fmt.Fprintf(w, "* %s\n", f)
		}
		fmt.Fprintln(w)
	}
	if bg, over, steps := r.maxBackground(); over > 0 {
		fmt.Fprintf(w, "**Warning:** other processes kept more than 20%% of the CPUs busy (up to %.0f%%) just before %d of %d timed steps; treat those times with care.\n\n", bg, over, steps)
	}

	if withGit {
		fmt.Fprintf(w, "| step | lode s | lode CPU s | Git LFS s | Git LFS CPU s | LFS / lode | git alone s | lode / git | lode µs per file |\n")
		fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	} else {
		fmt.Fprintf(w, "| step | lode s | lode CPU s | Git LFS s | Git LFS CPU s | LFS / lode | lode µs per file |\n")
		fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	}
	// gitCells: the git alone columns of a row ("" without git alone).
	gitCells := func(measure string) string {
		if !withGit {
			return ""
		}
		t, q := "-", ""
		if g := r.series(measure, "git"); g != nil {
			t = fmt.Sprintf("%.3f", g.Median)
		}
		if v, ok := out.OverGit[measure]; ok {
			q = fmt.Sprintf("%.2fx", v)
		}
		return fmt.Sprintf(" %s | %s |", t, q)
	}
	var rows [][2]string
	for _, st := range mfSteps {
		a, b, g := r.series(st.Measure, "lode"), r.series(st.Measure, "lfs"), r.series(st.Measure, "git")
		if a == nil && b == nil && g == nil {
			continue
		}
		rows = append(rows, [2]string{st.Measure, st.Label})
		cell := func(s *series) (string, string) {
			if s == nil {
				return "-", "-"
			}
			return fmt.Sprintf("%.3f", s.Median), fmt.Sprintf("%.2f", s.CPUMedian)
		}
		at, ac := cell(a)
		bt, bc := cell(b)
		ratio, per := "", ""
		if v, ok := out.Ratios[st.Measure]; ok {
			ratio = fmt.Sprintf("%.2fx", v)
		}
		if a != nil && nfiles > 0 && (st.Measure == "add" || st.Measure == "push" || st.Measure == "clone" || st.Measure == "status_clean" || st.Measure == "pull_tool" ||
			st.Measure == "verify" || strings.Contains(st.Measure, "cat") || st.Measure == "mount_find") {
			per = fmt.Sprintf("%.1f", a.Median/nfiles*1e6)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |%s %s |\n", st.Label, at, ac, bt, bc, ratio, gitCells(st.Measure), per)
	}
	pg, pt := r.series("pull_git", "lode"), r.series("pull_tool", "lode")
	qg, qt := r.series("pull_git", "lfs"), r.series("pull_tool", "lfs")
	if pg != nil && pt != nil {
		ls := pg.Median + pt.Median
		also := ""
		if withGit {
			also = "; git alone: `git pull`"
		}
		line := fmt.Sprintf("| no-op pull in all (`git pull` + the tool's pull, medians added%s) | %.3f | | ", also, ls)
		if qg != nil && qt != nil {
			line += fmt.Sprintf("%.3f | | %.2fx |", qg.Median+qt.Median, (qg.Median+qt.Median)/ls)
		} else {
			line += "- | | |"
		}
		if withGit {
			if gg := r.series("pull_git", "git"); gg != nil && gg.Median > 0 {
				line += fmt.Sprintf(" %.3f | %.2fx |", gg.Median, ls/gg.Median)
			} else {
				line += " - | |"
			}
		}
		fmt.Fprintln(w, line+" |")
	}
	fmt.Fprintln(w)

	if wc, mc, again := r.series("worktree_cat", "lode"), r.series("mount_cat", "lode"), r.series("mount_cat_again", "lode"); wc != nil && mc != nil && again != nil {
		mb := mibf(r.Sizes["data_bytes"])
		fmt.Fprintf(w, "Reading every file (%.1f MiB): through a fresh `git lode mount` %.0f MiB/s, again through the same mount %.0f MiB/s, "+
			"in the checked-out work tree %.0f MiB/s; **mount / work tree = %.0f%%** of the work tree's speed on the first read (%.0f%% on the second).\n\n",
			mb, mb/mc.Median, mb/again.Median, mb/wc.Median, 100*wc.Median/mc.Median, 100*wc.Median/again.Median)
	}

	// Resources: a column per tool; git alone's only with git alone, and
	// empty in the rows about a filter or lode alone.
	tools := []string{"lode", "lfs"}
	fmt.Fprintf(w, "Resources:\n\n| | lode | Git LFS |")
	if withGit {
		tools = append(tools, "git")
		fmt.Fprintf(w, " git alone |")
	}
	fmt.Fprintf(w, "\n| --- |%s\n", strings.Repeat(" ---: |", len(tools)))
	row := func(label string, cells ...string) {
		for len(cells) < len(tools) {
			cells = append(cells, "")
		}
		fmt.Fprintf(w, "| %s | %s |\n", label, strings.Join(cells, " | "))
	}
	// each: a row with f of every tool; filter is true when the row is
	// about the filter process, which git alone does not have.
	each := func(label string, filter bool, f func(tool string) string) {
		var cells []string
		for _, t := range tools {
			if t == "git" && filter {
				cells = append(cells, "")
				continue
			}
			cells = append(cells, f(t))
		}
		row(label, cells...)
	}
	for _, st := range []string{"add", "clone"} {
		each("peak open files of the filter process, "+st+" (sampled every 100 ms)", true, func(t string) string { return r.count(st + "_fd_peak_" + t) })
		each("peak RSS MiB, "+st+": largest process (GNU time %M)", false, func(t string) string { return r.rssMiB(st, t) })
		each("peak RSS MiB, "+st+": the filter process (VmHWM, sampled)", true, func(t string) string { return r.kib(st + "_filter_hwm_kib_" + t) })
		each("peak RSS MiB, "+st+": git + filter, summed (sampled)", false, func(t string) string { return r.kib(st + "_tree_rss_peak_kib_" + t) })
		each("processes named filter-process seen, "+st+" (with the `sh -c` git starts it through)", true, func(t string) string { return r.count(st + "_filter_procs_" + t) })
	}
	gitStore, gitClone := "", ""
	if withGit {
		gitStore, gitClone = "; git alone: `.git/objects`", "; git alone: git's local clone hard-links them"
	}
	each("local store after the add (du -sb `.git/lode` / `.git/lfs/objects`"+gitStore+")", false, func(t string) string { return r.bytes("store_after_add_" + t) })
	each("local store at the end, working repository", false, func(t string) string { return r.bytes("store_" + t) })
	each("local store of the clone (Git LFS: hard links to the bare repository's objects if its transfer hard-linked"+gitClone+")", false,
		func(t string) string { return r.bytes("clone_store_" + t) })
	if withGit {
		gitStore = "; git alone: `<bare>/objects`"
	}
	each("remote data (`<bare>/lode` / `<bare>/lfs/objects`"+gitStore+")", false, func(t string) string { return r.bytes("bare_store_" + t) })
	each("git objects of the working repository (`.git/objects`, loose)", false, func(t string) string { return r.bytes("git_objects_" + t) })
	row("pack files in `.git/lode/packs`: after the add / at the end / clone",
		fmt.Sprintf("%s / %s / %s", r.count("packs_after_add_lode"), r.count("packs_lode"), r.count("clone_packs_lode")))
	row("pack files in `<bare>/lode/packs`", r.count("bare_packs_lode"))
	row("requests, `git push` (lode's summary line)", r.count("push_rep1_requests_lode"))
	row("requests, `git clone`", clonesRequests(r))
	row("requests, `git lode pull` (no-op)", r.count("pull_requests_lode"))
	var hwm []string
	for i := 1; ; i++ {
		k := fmt.Sprintf("mount_hwm_kib_rep%d", i)
		if _, ok := r.Counts[k]; !ok {
			break
		}
		hwm = append(hwm, r.kib(k))
	}
	if len(hwm) > 0 {
		row("peak RSS MiB of the mount process (VmHWM; per mount)", strings.Join(hwm, ", "))
	}
	row("scratch space, largest seen (allocated KiB; inodes; all tools)", fmt.Sprintf("%s KiB; %s inodes", r.count("peak_disk_kib"), r.count("peak_inodes")))
	row("whole run", r.count("elapsed_s")+" s")
	fmt.Fprintln(w)
	var sums []string
	for _, k := range []string{"push_rep1_summary_lode", "push_noop_summary_lode", "clone_rep1_summary_lode", "pull_summary_lode"} {
		if v, ok := m[k]; ok {
			sums = append(sums, fmt.Sprintf("%s: `%s`", strings.TrimSuffix(k, "_summary_lode"), v))
		}
	}
	if len(sums) > 0 {
		fmt.Fprintf(w, "lode's summary lines: %s.\n\n", strings.Join(sums, "; "))
	}

	if len(out.VsBase) > 0 {
		fmt.Fprintf(w, "Against %s: time ratio = this run's median / that run's; **cost per file** = time ratio / file-count ratio "+
			"(1.0: the step scales linearly with the number of files; above: each file costs more).\n\n", out.Base)
		fmt.Fprintf(w, "| step | tool | there s | here s | time ratio | cost per file |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
		for _, c := range out.VsBase {
			fmt.Fprintf(w, "| %s | %s | %.3f | %.3f | %.2fx | %.2fx |\n", c.Measure, toolName(c.Tool), c.BaseMedian, c.Median, c.TimeRatio, c.PerFileCost)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "All timed steps (min, max, runs, peak RSS of the largest process, load from other processes):\n\n")
	timingTable(w, r, rows, true)

	var names []string
	for k := range r.Checks {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "Checks:\n\n| check | result | detail |\n| --- | --- | --- |\n")
	for _, k := range names {
		fmt.Fprintf(w, "| %s | %s | %s |\n", k, map[bool]string{true: "pass", false: "FAIL"}[r.Checks[k].Pass], strings.ReplaceAll(r.Checks[k].Detail, "|", "\\|"))
	}
}

// clonesRequests: lode prints no transfer summary for the downloads its
// smudge filter makes during a clone.
func clonesRequests(r *results) string {
	if v := r.count("clone_rep1_requests_lode"); v != "-" {
		return v
	}
	return "not reported (the smudge filter prints no summary)"
}

func writeManySummary(w io.Writer, r *results, out *mfJSON) {
	m := r.Meta
	fmt.Fprintf(w, "\nmany files: %s %s files, %s\n", m["files"], m["file_size"], m["generated"])
	for _, st := range mfSteps {
		a, b, g := r.series(st.Measure, "lode"), r.series(st.Measure, "lfs"), r.series(st.Measure, "git")
		if a == nil && b == nil && g == nil {
			continue
		}
		line := fmt.Sprintf("  %-16s", st.Measure)
		if a != nil {
			line += fmt.Sprintf(" lode %8.3f s cpu %7.2f s", a.Median, a.CPUMedian)
		} else {
			line += fmt.Sprintf(" %-28s", " lode -")
		}
		if b != nil {
			line += fmt.Sprintf("   LFS %8.3f s cpu %7.2f s", b.Median, b.CPUMedian)
		}
		if v, ok := out.Ratios[st.Measure]; ok {
			line += fmt.Sprintf("   LFS/lode %5.2fx", v)
		}
		if g != nil {
			line += fmt.Sprintf("   git %8.3f s", g.Median)
		}
		if v, ok := out.OverGit[st.Measure]; ok {
			line += fmt.Sprintf("   lode/git %5.2fx", v)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "  filter fds peak add/clone: lode %s/%s, LFS %s/%s; lode packs local/bare/clone %s/%s/%s; push requests %s\n",
		r.count("add_fd_peak_lode"), r.count("clone_fd_peak_lode"), r.count("add_fd_peak_lfs"), r.count("clone_fd_peak_lfs"),
		r.count("packs_lode"), r.count("bare_packs_lode"), r.count("clone_packs_lode"), r.count("push_rep1_requests_lode"))
	fmt.Fprintf(w, "  store: lode %s, LFS %s, git alone's objects %s; scratch at most %s KiB, %s inodes; %s s in all\n",
		r.bytes("store_lode"), r.bytes("store_lfs"), r.bytes("store_git"), r.count("peak_disk_kib"), r.count("peak_inodes"), r.count("elapsed_s"))
	for _, c := range out.VsBase {
		fmt.Fprintf(w, "  vs base %-16s %-5s time x%.2f, cost per file x%.2f\n", c.Measure, c.Tool, c.TimeRatio, c.PerFileCost)
	}
	var bad []string
	for k, c := range r.Checks {
		if !c.Pass {
			bad = append(bad, k+": "+c.Detail)
		}
	}
	slices.Sort(bad)
	for _, b := range bad {
		fmt.Fprintf(w, "  FAIL %s\n", b)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
