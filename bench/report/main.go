// Command report turns the raw measurements that bench/run.sh records
// (bench/out/raw.tsv) into results.md, results.json and a summary on stdout.
// With -manyfiles it does the same for bench/manyfiles.sh (manyfiles.tsv
// into manyfiles.md and manyfiles.json; see manyfiles.go).
//
// raw.tsv has one fact per line, tab-separated:
//
//	meta  KEY VALUE
//	time  MEASURE TOOL REP SECONDS PEAK_RSS_KIB CPU_SECONDS BACKGROUND_CPU_PCT
//	size  NAME BYTES
//	check NAME pass|fail DETAIL
//	count NAME N
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

type run struct {
	Rep     int     `json:"rep"`
	Seconds float64 `json:"seconds"`
	RSSKiB  int64   `json:"peak_rss_kib"`
	CPU     float64 `json:"cpu_s"`
	BgBusy  float64 `json:"background_cpu_pct"`
}

type series struct {
	Runs      []run   `json:"runs"`
	Median    float64 `json:"median_s"`
	Min       float64 `json:"min_s"`
	Max       float64 `json:"max_s"`
	MaxRSSMiB float64 `json:"max_peak_rss_mib"`
	CPUMedian float64 `json:"median_cpu_s"`
	MaxBg     float64 `json:"max_background_cpu_pct"`
}

type check struct {
	Pass   bool   `json:"pass"`
	Detail string `json:"detail,omitempty"`
}

type target struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target"`
	Pass   bool    `json:"pass"`
	Detail string  `json:"detail"`
}

type results struct {
	Meta    map[string]string             `json:"meta"`
	Timings map[string]map[string]*series `json:"timings"`
	Sizes   map[string]int64              `json:"sizes_bytes"`
	Counts  map[string]int64              `json:"counts,omitempty"`
	Checks  map[string]check              `json:"checks"`
	Targets []target                      `json:"targets"`
}

func main() {
	rawPath := flag.String("raw", "bench/out/raw.tsv", "raw measurements")
	mdPath := flag.String("md", "bench/out/results.md", "Markdown output")
	jsonPath := flag.String("json", "bench/out/results.json", "JSON output")
	many := flag.Bool("manyfiles", false, "the raw file is bench/manyfiles.sh's (write its own section; see manyfiles.go)")
	basePath := flag.String("base", "", "with -manyfiles: the JSON of an earlier many-files run to compare each step with")
	flag.Parse()
	res, err := load(*rawPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if *many {
		if err := manyFiles(res, *basePath, *mdPath, *jsonPath, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		return
	}
	res.Targets = targets(res)

	js, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(*jsonPath, append(js, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	var md strings.Builder
	writeMarkdown(&md, res)
	if err := os.WriteFile(*mdPath, []byte(md.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	writeSummary(os.Stdout, res)
}

func load(path string) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := &results{
		Meta:    map[string]string{},
		Timings: map[string]map[string]*series{},
		Sizes:   map[string]int64{},
		Counts:  map[string]int64{},
		Checks:  map[string]check{},
	}
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		fs := strings.Split(sc.Text(), "\t")
		bad := func() error { return fmt.Errorf("%s:%d: malformed line %q", path, ln, sc.Text()) }
		switch fs[0] {
		case "meta":
			if len(fs) != 3 {
				return nil, bad()
			}
			res.Meta[fs[1]] = fs[2]
		case "time":
			if len(fs) != 8 {
				return nil, bad()
			}
			rep, e1 := strconv.Atoi(fs[3])
			sec, e2 := strconv.ParseFloat(fs[4], 64)
			rss, e3 := strconv.ParseInt(fs[5], 10, 64)
			cpu, e4 := strconv.ParseFloat(fs[6], 64)
			bg, e5 := strconv.ParseFloat(fs[7], 64)
			if e1 != nil || e2 != nil || e3 != nil || e4 != nil || e5 != nil {
				return nil, bad()
			}
			m := res.Timings[fs[1]]
			if m == nil {
				m = map[string]*series{}
				res.Timings[fs[1]] = m
			}
			s := m[fs[2]]
			if s == nil {
				s = &series{}
				m[fs[2]] = s
			}
			s.Runs = append(s.Runs, run{rep, sec, rss, cpu, bg})
		case "size":
			if len(fs) != 3 {
				return nil, bad()
			}
			v, err := strconv.ParseInt(fs[2], 10, 64)
			if err != nil {
				return nil, bad()
			}
			res.Sizes[fs[1]] = v
		case "count":
			if len(fs) != 3 {
				return nil, bad()
			}
			v, err := strconv.ParseInt(fs[2], 10, 64)
			if err != nil {
				return nil, bad()
			}
			res.Counts[fs[1]] = v
		case "check":
			if len(fs) != 4 {
				return nil, bad()
			}
			res.Checks[fs[1]] = check{Pass: fs[2] == "pass", Detail: fs[3]}
		default:
			return nil, bad()
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, m := range res.Timings {
		for _, s := range m {
			var xs, cs []float64
			var rss int64
			for _, r := range s.Runs {
				xs = append(xs, r.Seconds)
				cs = append(cs, r.CPU)
				rss = max(rss, r.RSSKiB)
				s.MaxBg = max(s.MaxBg, r.BgBusy)
			}
			s.Median, s.Min, s.Max = median(xs)
			s.CPUMedian, _, _ = median(cs)
			s.MaxRSSMiB = float64(rss) / 1024
		}
	}
	return res, nil
}

// median returns the median, minimum and maximum of xs (not empty).
func median(xs []float64) (med, lo, hi float64) {
	slices.Sort(xs)
	n := len(xs)
	med = xs[n/2]
	if n%2 == 0 {
		med = (xs[n/2-1] + xs[n/2]) / 2
	}
	return med, xs[0], xs[n-1]
}

func (r *results) series(measure, tool string) *series {
	if m := r.Timings[measure]; m != nil {
		return m[tool]
	}
	return nil
}

// speedup is LFS median time / lode median time (>1: lode is faster).
func (r *results) speedup(measure string) (float64, bool) { return r.speedupOf(measure, "lode") }

// speedupOf is LFS median time / tool's median time.
func (r *results) speedupOf(measure, tool string) (float64, bool) {
	a, b := r.series(measure, "lfs"), r.series(measure, tool)
	if a == nil || b == nil || b.Median <= 0 {
		return 0, false
	}
	return a.Median / b.Median, true
}

// remoteChain sums, over the pushes of v1..v4, the bytes that appeared on
// tool's remote ("stored") or lode's printed payload ("payload"). ok is
// false unless all four pushes were recorded.
func (r *results) remoteChain(tool, what string) (sum int64, ok bool) {
	for k := 1; k <= 4; k++ {
		v, found := r.Sizes[fmt.Sprintf("remote_%s_v%d_%s", tool, k, what)]
		if !found {
			return 0, false
		}
		sum += v
	}
	return sum, true
}

func targets(r *results) []target {
	var ts []target
	speed := func(name, measure string, want float64) {
		if v, ok := r.speedup(measure); ok {
			ts = append(ts, target{name, v, "x", fmt.Sprintf(">= %.1fx", want), v >= want,
				fmt.Sprintf("LFS %.2f s / lode %.2f s (medians)", r.series(measure, "lfs").Median, r.series(measure, "lode").Median)})
		}
	}
	speed("git add+commit, random (LFS time / lode time)", "add_random", 1.5)
	speed("git add+commit, CSV (LFS time / lode time)", "add_csv", 1.3)
	speed("git add+commit, text CSV (LFS time / lode time)", "add_textcsv", 1.3)
	lode, lfs, restic := r.Sizes["store_lode"], r.Sizes["store_lfs"], r.Sizes["store_restic"]
	if lode > 0 && lfs > 0 {
		v := float64(lfs) / float64(lode)
		ts = append(ts, target{"store, 4 CSV versions (LFS bytes / lode bytes)", v, "x", ">= 3.0x", v >= 3,
			fmt.Sprintf("LFS %s / lode %s", mib(lfs), mib(lode))})
	}
	if lode > 0 && restic > 0 {
		v := float64(lode) / float64(restic)
		ts = append(ts, target{"store, 4 CSV versions (lode bytes / restic bytes)", v, "x", "<= 1.2x", v <= 1.2,
			fmt.Sprintf("lode %s / restic %s", mib(lode), mib(restic))})
	}
	speed("git checkout v4 -> v1 (LFS time / lode time)", "checkout_v4_to_v1", 1.5)
	speed("git checkout v1 -> v4 (LFS time / lode time)", "checkout_v1_to_v4", 1.5)
	lodeUp, ok1 := r.remoteChain("lode", "stored")
	lfsUp, ok2 := r.remoteChain("lfs", "stored")
	if ok1 && ok2 && lodeUp > 0 {
		v := float64(lfsUp) / float64(lodeUp)
		payload, _ := r.remoteChain("lode", "payload")
		ts = append(ts, target{"push v1..v4, bytes uploaded (LFS / lode to S3)", v, "x", ">= 3.0x", v >= 3,
			fmt.Sprintf("LFS %s / lode %s (new bytes on the remote; lode's printed payload %s)", mib(lfsUp), mib(lodeUp), mib(payload))})
	}
	for _, c := range []struct{ tool, name string }{
		{"lode", "git clone of v4 (LFS time / lode time, lode from S3)"},
		{"lode-local", "git clone of v4 (LFS time / lode time, both local)"},
	} {
		if v, ok := r.speedupOf("clone", c.tool); ok {
			ts = append(ts, target{c.name, v, "x", ">= 1.0x", v >= 1,
				fmt.Sprintf("LFS %.2f s / lode %.2f s (medians)", r.series("clone", "lfs").Median, r.series("clone", c.tool).Median)})
		}
	}
	if s := r.series("clean_stream", "lode"); s != nil {
		ts = append(ts, target{fmt.Sprintf("peak RSS, git-lode clean of a %s GiB stream", r.Meta["big_gb"]), s.MaxRSSMiB, "MiB", "< 200 MiB", s.MaxRSSMiB < 200,
			fmt.Sprintf("%.1f s, %.0f MiB/s", s.Median, mibf(gib(r.Meta["big_gb"]))/s.Median)})
	}
	if c, ok := r.Checks["sparse_roundtrip"]; ok {
		v := 0.0
		if c.Pass {
			v = 1
		}
		ts = append(ts, target{fmt.Sprintf("round trip of a %s GiB sparse file", r.Meta["sparse_gb"]), v, "", "pass", c.Pass, c.Detail})
	}
	var bad []string
	for name, c := range r.Checks {
		if !c.Pass && name != "sparse_roundtrip" {
			bad = append(bad, name+": "+c.Detail)
		}
	}
	slices.Sort(bad)
	ts = append(ts, target{"correctness checks (verify, checkout content)", float64(len(bad)), "failed", "0 failed", len(bad) == 0, strings.Join(bad, "; ")})
	return ts
}

// maxBackground is the highest load from other processes seen before any
// timed step, in percent of all CPUs, and how many of the steps saw more
// than 20%.
func (r *results) maxBackground() (bg float64, over, steps int) {
	for _, m := range r.Timings {
		for _, s := range m {
			bg = max(bg, s.MaxBg)
			for _, x := range s.Runs {
				steps++
				if x.BgBusy > 20 {
					over++
				}
			}
		}
	}
	return bg, over, steps
}

func gib(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v << 30
}

func mibf(b int64) float64 { return float64(b) / (1 << 20) }
func mib(b int64) string   { return fmt.Sprintf("%.1f MiB", mibf(b)) }

func passWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func fmtValue(t target) string {
	switch t.Unit {
	case "x":
		return fmt.Sprintf("%.2fx", t.Value)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", t.Value)
	case "":
		if t.Value == 1 {
			return "pass"
		}
		return "fail"
	}
	return fmt.Sprintf("%g %s", t.Value, t.Unit)
}

// timingTable writes one Markdown table: a row per (measure, tool).
func timingTable(w io.Writer, r *results, rows [][2]string, speedups bool) {
	timingTableNamed(w, r, rows, speedups, nil)
}

// timingTableNamed is timingTable with names overriding toolName.
func timingTableNamed(w io.Writer, r *results, rows [][2]string, speedups bool, names map[string]string) {
	fmt.Fprintln(w, "| step | tool | median s | min s | max s | runs | CPU s (median) | peak RSS MiB (max) | other load % (max) | LFS/lode |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, row := range rows {
		for _, tool := range []string{"lode", "lode-local", "lfs", "restic", "floor", "git"} {
			s := r.series(row[0], tool)
			if s == nil {
				continue
			}
			ratio := ""
			if speedups && (tool == "lode" || tool == "lode-local") {
				if v, ok := r.speedupOf(row[0], tool); ok {
					ratio = fmt.Sprintf("%.2fx", v)
				}
			}
			name := toolName(tool)
			if n, ok := names[tool]; ok {
				name = n
			}
			fmt.Fprintf(w, "| %s | %s | %.3f | %.3f | %.3f | %d | %.2f | %.1f | %.0f | %s |\n",
				row[1], name, s.Median, s.Min, s.Max, len(s.Runs), s.CPUMedian, s.MaxRSSMiB, s.MaxBg, ratio)
		}
	}
	fmt.Fprintln(w)
}

func toolName(t string) string {
	switch t {
	case "lfs":
		return "Git LFS"
	case "floor":
		return "git + no-op filter (floor)"
	case "git":
		return "git alone (no filter)"
	case "lode-local":
		return "lode, embedded default (`<bare>/lode`)"
	}
	return t
}

func writeMarkdown(w io.Writer, r *results) {
	m := r.Meta
	fmt.Fprintf(w, "# lode benchmark results\n\n")
	fmt.Fprintf(w, "Generated by `bench/run.sh` on %s. lode %s (tree %s).\n\n", m["date"], m["lode"], m["lode_commit"])
	fmt.Fprintf(w, "## Machine and sizes\n\n| | |\n| --- | --- |\n")
	for _, kv := range [][2]string{
		{"CPU", m["cpu"]}, {"cores (nproc)", m["nproc"]}, {"RAM", m["ram"]}, {"kernel", m["kernel"]}, {"OS", m["os"]},
		{"git", m["git"]}, {"git-lfs", m["git_lfs"]}, {"restic", m["restic"] + " (repository version " + m["restic_repo_version"] + ")"}, {"Go", m["go"]},
		{"BENCH_SIZE_MB", m["size_mb"]}, {"BENCH_REPS", m["reps"]}, {"BENCH_BIG_GB", m["big_gb"]}, {"BENCH_SPARSE_GB", m["sparse_gb"]},
		{"page cache", m["cache"]},
		{"random file", fmt.Sprintf("%d bytes", r.Sizes["random"])},
		{"CSV v1..v4", fmt.Sprintf("%d, %d, %d, %d bytes", r.Sizes["csv_v1"], r.Sizes["csv_v2"], r.Sizes["csv_v3"], r.Sizes["csv_v4"])},
		{"CSV layout", m["csv_layout"]},
	} {
		fmt.Fprintf(w, "| %s | %s |\n", kv[0], kv[1])
	}
	fmt.Fprintln(w)

	fmt.Fprintf(w, "## Targets\n\n| what | value | target | result | detail |\n| --- | ---: | --- | --- | --- |\n")
	for _, t := range r.Targets {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.Name, fmtValue(t), t.Target, passWord(t.Pass), t.Detail)
	}
	fmt.Fprintln(w)

	if bg, over, steps := r.maxBackground(); over > 0 {
		fmt.Fprintf(w, "**Warning:** other processes kept more than 20%% of the CPUs busy (up to %.0f%%) just before %d of %d timed steps "+
			"(column \"other load\"); treat those times with care.\n\n", bg, over, steps)
	}
	fmt.Fprintf(w, "## 1. `git add` + `git commit` of one new file (fresh repository each run)\n\n")
	timingTable(w, r, [][2]string{{"add_random", "random " + m["size_mb"] + " MiB"}, {"add_csv", "CSV v1"}, {"add_textcsv", "text CSV"}}, true)
	if s := r.series("add_random", "lode"); s != nil {
		fmt.Fprintf(w, "Throughput (median): random lode %.0f MiB/s, LFS %.0f MiB/s; CSV lode %.0f MiB/s, LFS %.0f MiB/s.\n\n",
			mibf(r.Sizes["random"])/s.Median, mibf(r.Sizes["random"])/r.series("add_random", "lfs").Median,
			mibf(r.Sizes["csv_v1"])/r.series("add_csv", "lode").Median, mibf(r.Sizes["csv_v1"])/r.series("add_csv", "lfs").Median)
	}
	if s := r.series("add_textcsv", "lode"); s != nil && r.series("add_textcsv", "lfs") != nil {
		fmt.Fprintf(w, "Text CSV (ids, timestamps, names, words; zstd -1 makes it about 2.8x smaller): lode %.0f MiB/s, LFS %.0f MiB/s.\n\n",
			mibf(r.Sizes["textcsv"])/s.Median, mibf(r.Sizes["textcsv"])/r.series("add_textcsv", "lfs").Median)
	}

	fmt.Fprintf(w, "## 2. Storage of four CSV versions (v1; v2 = +1%% rows; v3 = 0.1%% rows rewritten mid-file; v4 = +100 B after the header)\n\n")
	fmt.Fprintf(w, "| store | bytes | MiB | / logical |\n| --- | ---: | ---: | ---: |\n")
	logical := r.Sizes["csv_logical_total"]
	for _, kv := range [][2]string{
		{"logical (sum of the 4 files)", "csv_logical_total"},
		{"lode `.git/lode` (du -sb)", "store_lode"},
		{"lode `stats` stored_bytes", "store_lode_stats"},
		{"Git LFS `.git/lfs/objects` (du -sb)", "store_lfs"},
		{"restic repository (du -sb)", "store_restic"},
	} {
		if v, ok := r.Sizes[kv[1]]; ok {
			fmt.Fprintf(w, "| %s | %d | %.1f | %.3f |\n", kv[0], v, mibf(v), float64(v)/float64(logical))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Time to add+commit each version (informational; restic: `restic backup`):\n\n")
	timingTable(w, r, [][2]string{{"versions_v1", "v1"}, {"versions_v2", "v2"}, {"versions_v3", "v3"}, {"versions_v4", "v4"}}, false)

	fmt.Fprintf(w, "## 3. `git checkout` between v1 and v4 (same repositories, repeated)\n\n")
	timingTable(w, r, [][2]string{{"checkout_v4_to_v1", "v4 -> v1"}, {"checkout_v1_to_v4", "v1 -> v4"}}, true)

	fmt.Fprintf(w, "## 4. Memory\n\n| operation | time s | CPU s | peak RSS MiB |\n| --- | ---: | ---: | ---: |\n")
	memRow := func(label, measure, tool string) {
		if s := r.series(measure, tool); s != nil {
			fmt.Fprintf(w, "| %s | %.3f | %.2f | %.1f |\n", label, s.Median, s.CPUMedian, s.MaxRSSMiB)
		}
	}
	memRow("`git-lode clean` of the random file", "clean_random", "lode")
	memRow("`git-lode clean` of CSV v4", "clean_csv", "lode")
	memRow("`git add`+commit of the random file, lode (git and filter; median time, max RSS over runs)", "add_random", "lode")
	memRow("`git add`+commit of the random file, Git LFS (same)", "add_random", "lfs")
	memRow("`git add`+commit of CSV v1, lode (same)", "add_csv", "lode")
	memRow("`git add`+commit of CSV v1, Git LFS (same)", "add_csv", "lfs")
	memRow("`git add`+commit of the text CSV, lode (same)", "add_textcsv", "lode")
	memRow("`git add`+commit of the text CSV, Git LFS (same)", "add_textcsv", "lfs")
	if s := r.series("clean_stream", "lode"); s != nil {
		n := gib(m["big_gb"])
		fmt.Fprintf(w, "| `gen random \\| git-lode clean` of a %s GiB stream (%.0f MiB/s) | %.3f | %.2f | %.1f |\n", m["big_gb"], mibf(n)/s.Median, s.Median, s.CPUMedian, s.MaxRSSMiB)
	}
	fmt.Fprintln(w)

	fmt.Fprintf(w, "## 5. Round trip of a file larger than 4 GiB (lode)\n\n")
	if c, ok := r.Checks["sparse_roundtrip"]; ok {
		fmt.Fprintf(w, "A %s GiB sparse file with 1 MiB of random data at 0, 1 GiB+777, 4 GiB+12345 and the end: "+
			"`git add`, `git commit`, delete, `git checkout -- file`, `cmp` with the original, b3sum = pointer oid.\n\n", m["sparse_gb"])
		fmt.Fprintf(w, "Result: **%s** %s\n\n| step | seconds |\n| --- | ---: |\n", map[bool]string{true: "PASS", false: "FAIL"}[c.Pass], c.Detail)
		for _, s := range []string{"sparse_add", "sparse_commit", "sparse_checkout", "sparse_cmp"} {
			if x := r.series(s, "lode"); x != nil {
				fmt.Fprintf(w, "| %s | %.3f |\n", strings.TrimPrefix(s, "sparse_"), x.Median)
			}
		}
		if v, ok := r.Sizes["sparse_store"]; ok {
			fmt.Fprintf(w, "\nStore after the add: %d bytes.\n", v)
		}
	} else {
		fmt.Fprintf(w, "Skipped (BENCH_SPARSE_GB=0).\n")
	}
	fmt.Fprintln(w)

	writeRemote(w, r)

	var names []string
	for k := range r.Checks {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "## Checks\n\n| check | result | detail |\n| --- | --- | --- |\n")
	for _, k := range names {
		fmt.Fprintf(w, "| %s | %s | %s |\n", k, map[bool]string{true: "pass", false: "FAIL"}[r.Checks[k].Pass], r.Checks[k].Detail)
	}
}

func writeSummary(w io.Writer, r *results) {
	m := r.Meta
	fmt.Fprintf(w, "\nlode benchmark: %s MiB, %s reps, %s, %s cores, %s\n", m["size_mb"], m["reps"], m["cpu"], m["nproc"], m["ram"])
	row := func(label, measure string) {
		a, b := r.series(measure, "lode"), r.series(measure, "lfs")
		if a == nil || b == nil {
			return
		}
		fmt.Fprintf(w, "  %-18s lode %6.2f s [%.2f-%.2f] cpu %5.2f s   LFS %6.2f s [%.2f-%.2f] cpu %5.2f s\n",
			label, a.Median, a.Min, a.Max, a.CPUMedian, b.Median, b.Min, b.Max, b.CPUMedian)
	}
	row("add+commit random", "add_random")
	row("add+commit CSV", "add_csv")
	row("checkout v4->v1", "checkout_v4_to_v1")
	row("checkout v1->v4", "checkout_v1_to_v4")
	fmt.Fprintf(w, "  store of 4 CSV versions: logical %s, lode %s, LFS %s, restic %s\n",
		mib(r.Sizes["csv_logical_total"]), mib(r.Sizes["store_lode"]), mib(r.Sizes["store_lfs"]), mib(r.Sizes["store_restic"]))
	if lodeUp, ok := r.remoteChain("lode", "stored"); ok {
		local, _ := r.remoteChain("lode-local", "stored")
		lfsUp, _ := r.remoteChain("lfs", "stored")
		payload, _ := r.remoteChain("lode", "payload")
		var reqs []string
		for k := 1; k <= 4; k++ {
			if n, ok := r.Counts[fmt.Sprintf("remote_lode_v%d_requests", k)]; ok {
				reqs = append(reqs, strconv.FormatInt(n, 10))
			} else {
				reqs = append(reqs, "-")
			}
		}
		fmt.Fprintf(w, "  push v1..v4: lode->S3 %s (payload %s; requests per push %s), lode-><bare>/lode %s, LFS %s\n",
			mib(lodeUp), mib(payload), strings.Join(reqs, "/"), mib(local), mib(lfsUp))
		for _, t := range []struct{ label, tool string }{{"lode (S3)", "lode"}, {"lode (<bare>/lode)", "lode-local"}, {"LFS (bare repo)", "lfs"}} {
			if s := r.series("clone", t.tool); s != nil {
				fmt.Fprintf(w, "  git clone %-19s %6.2f s [%.2f-%.2f] cpu %5.2f s\n", t.label, s.Median, s.Min, s.Max, s.CPUMedian)
			}
		}
	}
	for _, k := range []string{"clean_random", "clean_csv", "clean_stream"} {
		if s := r.series(k, "lode"); s != nil {
			fmt.Fprintf(w, "  %-22s %7.2f s, peak RSS %.1f MiB\n", k, s.Median, s.MaxRSSMiB)
		}
	}
	if bg, over, steps := r.maxBackground(); over > 0 {
		fmt.Fprintf(w, "\n  WARNING: other processes kept more than 20%% of the CPUs busy (up to %.0f%%) just before\n"+
			"  %d of %d timed steps; those times are suspect (see 'other load %%' in results.md).\n", bg, over, steps)
	}
	fmt.Fprintf(w, "\n  %-52s %10s  %-10s %s\n", "target", "value", "goal", "result")
	for _, t := range r.Targets {
		fmt.Fprintf(w, "  %-52s %10s  %-10s %s\n", t.Name, fmtValue(t), t.Target, passWord(t.Pass))
		if !t.Pass && t.Detail != "" && t.Unit == "failed" {
			fmt.Fprintf(w, "      %s\n", t.Detail)
		}
	}
}

// writeRemote writes measurement 6: the CSV chain pushed to a remote, and
// a fresh clone.
func writeRemote(w io.Writer, r *results) {
	m := r.Meta
	fmt.Fprintf(w, "## 6. Remote: push v1..v4, then a fresh `git clone`\n\n")
	if _, ok := r.remoteChain("lode", "stored"); !ok {
		fmt.Fprintf(w, "Skipped (BENCH_REMOTE=0).\n\n")
		return
	}
	fmt.Fprintf(w, "The CSV versions of measurement 2, committed and pushed in turn (`git push`, lode's pre-push hook uploads). "+
		"**lode → S3**: to a local S3 server (%s). **lode → `<bare>/lode`**: the same commits pushed, from the same working "+
		"repository, to a second bare repository with no lode remote configured (the embedded default). "+
		"**Git LFS**: to its bare repository by path, through its standalone file transfer (here %s). "+
		"Git LFS cannot push to S3: its only network transport is the LFS HTTP API, which needs an LFS server in front "+
		"of the storage; its bytes are what it stored under `remote-lfs.git/lfs/objects`, which is what it would send to "+
		"any LFS server (whole objects, uncompressed).\n\n", m["remote_s3"], m["lfs_transfer"])
	fmt.Fprintf(w, "New bytes = the sizes of the files under the remote's data folder after the push minus before (S3: the prefix's folder in the server's POSIX back end, where an object is a file; all of lode's objects: packs, indexes, manifests). "+
		"Payload, chunks, packs and requests are from lode's summary line (payload: compressed chunk bytes, rounded as printed; "+
		"requests: lode's requests to the object store).\n\n")
	fmt.Fprintf(w, "| push | lode → S3: new bytes | payload | chunks | packs | requests | lode → `<bare>/lode`: new bytes | requests | Git LFS: new bytes | LFS / lode → S3 |\n")
	fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	cnt := func(name string) string {
		if v, ok := r.Counts[name]; ok {
			return strconv.FormatInt(v, 10)
		}
		return "-"
	}
	sz := func(name string) string {
		if v, ok := r.Sizes[name]; ok {
			return human(v)
		}
		return "-"
	}
	ratio := func(a, b int64) string {
		if b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1fx", float64(a)/float64(b))
	}
	for k := 1; k <= 4; k++ {
		p := func(tool, what string) string { return fmt.Sprintf("remote_%s_v%d_%s", tool, k, what) }
		fmt.Fprintf(w, "| v%d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k,
			sz(p("lode", "stored")), sz(p("lode", "payload")), cnt(p("lode", "chunks")), cnt(p("lode", "packs")), cnt(p("lode", "requests")),
			sz(p("lode-local", "stored")), cnt(p("lode-local", "requests")), sz(p("lfs", "stored")),
			ratio(r.Sizes[p("lfs", "stored")], r.Sizes[p("lode", "stored")]))
	}
	lode, _ := r.remoteChain("lode", "stored")
	payload, _ := r.remoteChain("lode", "payload")
	local, _ := r.remoteChain("lode-local", "stored")
	lfs, _ := r.remoteChain("lfs", "stored")
	fmt.Fprintf(w, "| **v1..v4** | **%s** | %s | | | | %s | | **%s** | **%s** |\n\n",
		human(lode), human(payload), human(local), human(lfs), ratio(lfs, lode))
	fmt.Fprintf(w, "Remote totals after the four pushes: S3 prefix %d bytes, `<bare>/lode` %d bytes, LFS `lfs/objects` %d bytes "+
		"(logical %d bytes); the lode bare repository that pushed to S3 holds %d bytes under `lode/`.\n\n",
		r.Sizes["remote_lode_total"], r.Sizes["remote_lode-local_total"], r.Sizes["remote_lfs_total"], r.Sizes["csv_logical_total"], r.Sizes["remote_lode_bare_lode_dir"])
	names := map[string]string{"lode": "lode → S3", "lode-local": "lode → `<bare>/lode`", "lfs": "Git LFS → bare repository"}
	fmt.Fprintf(w, "Time of each `git push` (informational: CPU s is git, lode or git-lfs, not the S3 server; "+
		"Git LFS's local transfer hard-links when it can, so its push copies nothing):\n\n")
	timingTableNamed(w, r, [][2]string{{"push_v1", "push v1"}, {"push_v2", "push v2"}, {"push_v3", "push v3"}, {"push_v4", "push v4"}}, false, names)
	fmt.Fprintf(w, "`git clone` of the bare repository into a fresh directory, checkout of v4 included (each smudge filter fetches "+
		"the data: lode from S3 with `LODE_REMOTE_URL` set, or from `<bare>/lode`; Git LFS from the bare repository's "+
		"`lfs/objects`), one untimed warm-up clone each, then alternating; `cmp` with v4 after the warm-up and the first timed clone. "+
		"The S3 server runs on the same machine and its CPU time is not in the CPU column.\n\n")
	names = map[string]string{"lode": "lode, from S3", "lode-local": "lode, from `<bare>/lode`", "lfs": "Git LFS, from the bare repository"}
	timingTableNamed(w, r, [][2]string{{"clone", "git clone"}}, true, names)
}

// human is a byte count and its binary-prefixed rounding: "30941004 (29.5 MiB)".
func human(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%d (%.1f MiB)", b, mibf(b))
	case b >= 1<<10:
		return fmt.Sprintf("%d (%.1f KiB)", b, float64(b)/1024)
	}
	return fmt.Sprintf("%d B", b)
}
