package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManyFilesGitAlone: the git alone columns and the lode / git ratio
// appear with git alone's timings, every row of the step table has as many
// cells as its header, and a run without git alone keeps the old table.
func TestManyFilesGitAlone(t *testing.T) {
	const head = "meta\tfiles\t1000\nmeta\tfile_size\tsmall\n"
	tm := func(measure, tool, sec string) string {
		return "time\t" + measure + "\t" + tool + "\t1\t" + sec + "\t1024\t0.50\t0\n"
	}
	cases := []struct {
		name    string
		raw     string
		header  string   // the step table's header
		rows    []string // rows that must appear
		noRows  []string // text that must not
		overGit map[string]float64
	}{
		{
			name: "three tools",
			raw: head + "meta\tgit_alone\t1\n" +
				tm("add", "lode", "3.000") + tm("add", "lfs", "6.000") + tm("add", "git", "2.000") +
				tm("pull_git", "lode", "0.100") + tm("pull_tool", "lode", "0.300") +
				tm("pull_git", "lfs", "0.100") + tm("pull_tool", "lfs", "0.500") + tm("pull_git", "git", "0.080") +
				tm("mount_ready", "lode", "0.200"),
			header: "| step | lode s | lode CPU s | Git LFS s | Git LFS CPU s | LFS / lode | git alone s | lode / git | lode µs per file |",
			rows: []string{
				"| `git add data` + `git commit`, all files | 3.000 | 0.50 | 6.000 | 0.50 | 2.00x | 2.000 | 1.50x | 3000.0 |",
				"| `git pull`, nothing new (in the clone) | 0.100 | 0.50 | 0.100 | 0.50 | 1.00x | 0.080 | 1.25x |  |",
				"| then `git lode pull` / `git lfs pull` | 0.300 | 0.50 | 0.500 | 0.50 | 1.67x | - |  | 300.0 |",
				"| no-op pull in all (`git pull` + the tool's pull, medians added; git alone: `git pull`) | 0.400 | | 0.600 | | 1.50x | 0.080 | 5.00x | |",
				"| `git lode mount HEAD DIR` until ready | 0.200 | 0.50 | - | - |  | - |  |  |",
				"| | lode | Git LFS | git alone |",
				"| peak RSS MiB, add: largest process (GNU time %M) | 1.0 | 1.0 | 1.0 |",
				"| peak open files of the filter process, add (sampled every 100 ms) | - | - |  |",
				"| `git add data` + `git commit`, all files | git alone (no filter) | 2.000 |",
			},
			overGit: map[string]float64{"add": 1.5, "pull_git": 1.25},
		},
		{
			name:   "without git alone",
			raw:    head + "meta\tgit_alone\t0\n" + tm("add", "lode", "3.000") + tm("add", "lfs", "6.000"),
			header: "| step | lode s | lode CPU s | Git LFS s | Git LFS CPU s | LFS / lode | lode µs per file |",
			rows: []string{
				"| `git add data` + `git commit`, all files | 3.000 | 0.50 | 6.000 | 0.50 | 2.00x | 3000.0 |",
				"git alone (plain git, no filter) was not run (BENCH_GIT=0).",
				"| | lode | Git LFS |\n",
			},
			noRows: []string{"lode / git", "git alone s", "git alone:"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			raw := filepath.Join(dir, "m.tsv")
			if err := os.WriteFile(raw, []byte(c.raw), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := load(raw)
			if err != nil {
				t.Fatal(err)
			}
			md, js := filepath.Join(dir, "m.md"), filepath.Join(dir, "m.json")
			if err := manyFiles(r, "", md, js, io.Discard); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(md)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			// The step table: from its header to the first blank line.
			i := strings.Index(text, c.header+"\n")
			if i < 0 {
				t.Fatalf("no header %q in:\n%s", c.header, text)
			}
			table, _, _ := strings.Cut(text[i:], "\n\n")
			want := strings.Count(c.header, "|")
			for _, line := range strings.Split(table, "\n") {
				// A literal \| in a label is not a cell boundary.
				if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != want {
					t.Errorf("row has %d bars, header %d: %q", n, want, line)
				}
			}
			for _, row := range c.rows {
				if !strings.Contains(text, row) {
					t.Errorf("missing %q in:\n%s", row, text)
				}
			}
			for _, s := range c.noRows {
				if strings.Contains(text, s) {
					t.Errorf("unexpected %q in:\n%s", s, text)
				}
			}
			b, err = os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			var out mfJSON
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if out.Ratios["add"] != 2 {
				t.Errorf("lfs_over_lode add = %v, want 2", out.Ratios["add"])
			}
			if len(out.OverGit) != len(c.overGit) {
				t.Errorf("lode_over_git = %v, want %v", out.OverGit, c.overGit)
			}
			for k, v := range c.overGit {
				if got := out.OverGit[k]; got < v-1e-9 || got > v+1e-9 {
					t.Errorf("lode_over_git[%s] = %v, want %v", k, got, v)
				}
			}
		})
	}
}
