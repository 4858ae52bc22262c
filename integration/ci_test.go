package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/lodevcs/lode/integration/servers"
)

// The CI recipes users copy (docs/ci) and the script they call.
const (
	ciScript = "../docs/ci/lode-ci.sh"
	ciGitHub = "../docs/ci/github-actions.yml"
	ciGitLab = "../docs/ci/gitlab-ci.yml"
)

// ciRecipe is what a CI recipe runs and where it keeps things.
type ciRecipe struct {
	file  string
	lines []string          // every shell line of every step, continuations joined
	env   map[string]string // variables the recipe sets (workflow, job, step)
	// vars stand for what the CI system provides ($CI_..., ${{ github... }}).
	vars map[string]string
}

// scriptLines splits a run: or script: block into shell lines, joining
// lines that end in a backslash.
func scriptLines(block string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(block, "\n") {
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			continue
		}
		cur.WriteString(l)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

func readYAML(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return doc
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}

// gitHubRecipe reads the workflow: its steps' run: lines and env.
func gitHubRecipe(t *testing.T) (ciRecipe, map[string]any) {
	doc := readYAML(t, ciGitHub)
	r := ciRecipe{file: ciGitHub, env: stringMap(doc["env"]), vars: map[string]string{"github.base_ref": "main"}}
	jobs, _ := doc["jobs"].(map[string]any)
	if len(jobs) != 1 {
		t.Fatalf("%s: %d jobs, want 1", ciGitHub, len(jobs))
	}
	var job map[string]any
	for _, j := range jobs {
		job, _ = j.(map[string]any)
	}
	for k, v := range stringMap(job["env"]) {
		r.env[k] = v
	}
	steps, _ := job["steps"].([]any)
	for _, st := range steps {
		step, _ := st.(map[string]any)
		if run, ok := step["run"].(string); ok {
			r.lines = append(r.lines, scriptLines(run)...)
		}
	}
	return r, job
}

// gitLabRecipe reads the job: its before_script and script lines and
// variables.
func gitLabRecipe(t *testing.T) (ciRecipe, map[string]any) {
	doc := readYAML(t, ciGitLab)
	job, _ := doc["lode-train"].(map[string]any)
	if job == nil {
		t.Fatalf("%s: no job lode-train", ciGitLab)
	}
	r := ciRecipe{file: ciGitLab, env: stringMap(job["variables"]), vars: map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}}
	for _, key := range []string{"before_script", "script"} {
		items, _ := job[key].([]any)
		for _, it := range items {
			if s, ok := it.(string); ok {
				r.lines = append(r.lines, scriptLines(s)...)
			}
		}
	}
	return r, job
}

// scriptLine returns the one line that runs lode-ci.sh, with what the CI
// system substitutes (${{ expr }}) filled in.
func (r ciRecipe) scriptLine(t *testing.T) string {
	t.Helper()
	var found []string
	for _, l := range r.lines {
		if strings.Contains(l, "lode-ci.sh") {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d lines run lode-ci.sh, want 1: %q", r.file, len(found), found)
	}
	line := regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`).ReplaceAllStringFunc(found[0], func(m string) string {
		expr := strings.TrimSpace(m[3 : len(m)-2])
		v, ok := r.vars[expr]
		if !ok {
			t.Fatalf("%s: the lode-ci.sh line uses ${{ %s }}, which the test does not know", r.file, expr)
		}
		return v
	})
	if !strings.HasPrefix(line, "docs/ci/lode-ci.sh ") {
		t.Fatalf("%s: %q does not call docs/ci/lode-ci.sh from the top of the repository", r.file, line)
	}
	return line
}

// shellEnv is the environment a recipe's line runs in: the recipe's
// variables and the CI system's, with ${{ }} and $VAR references filled.
func (r ciRecipe) shellEnv() []string {
	var env []string
	for k, v := range r.vars {
		if !strings.Contains(k, ".") {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range r.env {
		if strings.Contains(v, "${{") {
			continue // secrets
		}
		env = append(env, k+"="+os.Expand(v, func(name string) string { return r.vars[name] }))
	}
	return env
}

// The recipes call lode-ci.sh with arguments it accepts (checked by the
// script itself, LODE_CI_DRY_RUN=1), check out pointers only, cache the
// store the script's lode uses, and post the file the script writes.
func TestCIRecipes(t *testing.T) {
	requireTool(t, "sh")
	gh, ghJob := gitHubRecipe(t)
	gl, glJob := gitLabRecipe(t)
	for _, r := range []ciRecipe{gh, gl} {
		t.Run(filepath.Base(r.file), func(t *testing.T) {
			line := r.scriptLine(t)
			cmd := exec.Command("sh", "-c", line)
			cmd.Dir = ".."
			cmd.Env = append(os.Environ(), append(r.shellEnv(), "LODE_CI_DRY_RUN=1")...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
			for _, want := range []string{"base=origin/main\n", "data=1: -I 'data'\n", "out=lode-diff.md\n", "command=poetry run train data out\n"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("%s: lode-ci.sh took\n%s\nwant %q", line, out, want)
				}
			}
			if r.env["GIT_LODE_SKIP_SMUDGE"] != "1" {
				t.Errorf("%s: GIT_LODE_SKIP_SMUDGE is %q, want 1 (check out pointers only)", r.file, r.env["GIT_LODE_SKIP_SMUDGE"])
			}
		})
	}

	// GitHub: the cache holds the directory LODE_STORE_DIR names, keyed on
	// the data paths' pointers; the comment posts the script's file.
	all := strings.Join(gh.lines, "\n")
	if !strings.Contains(all, `LODE_STORE_DIR=$RUNNER_TEMP/lode-store`) {
		t.Errorf("%s: LODE_STORE_DIR is not set to $RUNNER_TEMP/lode-store", gh.file)
	}
	if !strings.Contains(all, `gh pr comment`) || !strings.Contains(all, `-F lode-diff.md`) {
		t.Errorf("%s: no 'gh pr comment ... -F lode-diff.md'", gh.file)
	}
	if !strings.Contains(all, `git ls-tree -r HEAD -- $DATA_PATHS`) {
		t.Errorf("%s: the cache key is not computed from the data paths' pointers", gh.file)
	}
	var cached, checkout bool
	steps, _ := ghJob["steps"].([]any)
	for _, st := range steps {
		step, _ := st.(map[string]any)
		uses, _ := step["uses"].(string)
		with := stringMap(step["with"])
		switch {
		case strings.HasPrefix(uses, "actions/cache@"):
			cached = with["path"] == "${{ runner.temp }}/lode-store" && with["key"] == "${{ steps.data.outputs.key }}"
		case strings.HasPrefix(uses, "actions/checkout@"):
			checkout = with["fetch-depth"] == "0"
		}
	}
	if !cached || !checkout {
		t.Errorf("%s: cache of the store %v, checkout of the history %v", gh.file, cached, checkout)
	}

	// GitLab: the cache holds .lode-store/, which LODE_STORE_DIR names; the
	// note posts the script's file, which is also an artifact.
	if gl.env["LODE_STORE_DIR"] != "$CI_PROJECT_DIR/.lode-store" {
		t.Errorf("%s: LODE_STORE_DIR is %q", gl.file, gl.env["LODE_STORE_DIR"])
	}
	cache := glJob["cache"].(map[string]any)
	if paths, _ := cache["paths"].([]any); len(paths) != 1 || paths[0] != ".lode-store/" {
		t.Errorf("%s: cache paths %v", gl.file, cache["paths"])
	}
	if all := strings.Join(gl.lines, "\n"); !strings.Contains(all, `body@lode-diff.md`) {
		t.Errorf("%s: the note does not post lode-diff.md", gl.file)
	}
	if paths, _ := glJob["artifacts"].(map[string]any)["paths"].([]any); len(paths) != 1 || paths[0] != "lode-diff.md" {
		t.Errorf("%s: artifacts %v", gl.file, paths)
	}

	// The script refuses what it does not take.
	for _, args := range [][]string{{"--data", "x", "--", "true"}, {"--base", "main"}, {"--base", "main", "--what", "--", "true"}} {
		cmd := exec.Command("sh", append([]string{ciScript}, args...)...)
		cmd.Env = append(os.Environ(), "LODE_CI_DRY_RUN=1")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "usage: lode-ci.sh") {
			t.Errorf("lode-ci.sh %v: %v\n%s", args, err, out)
		}
	}
}

// Each recipe's lode-ci.sh line, run for real in a pointers-only clone
// of a merge request's branch: it pulls the data, runs the Poetry training
// job (integration/trainjob, the repository's own project here), and
// writes the diff against main with the data change, the bytes new to the
// store and the metrics' deltas. Against the embedded default remote and
// against S3 (versitygw).
func TestCIScript(t *testing.T) {
	requireTool(t, "sh")
	job := installTrainJob(t) // Poetry's environment, and a check that it works here
	var poetryEnv []string
	for _, kv := range job.env {
		if strings.HasPrefix(kv, "POETRY_") || strings.HasPrefix(kv, "PYTHON_KEYRING") || strings.HasPrefix(kv, "XDG_CACHE_HOME=") || strings.HasPrefix(kv, "XDG_DATA_HOME=") {
			poetryEnv = append(poetryEnv, kv)
		}
	}
	gh, _ := gitHubRecipe(t)
	gl, _ := gitLabRecipe(t)
	for _, remoteKind := range []string{"embedded", "s3"} {
		t.Run(remoteKind, func(t *testing.T) {
			s := newSandbox(t)
			s.env = append(s.env, poetryEnv...)
			var lodeToml string
			if remoteKind == "s3" {
				env := servers.StartS3(t)
				s.env = append(s.env, env.Vars()...)
				lodeToml = fmt.Sprintf("[remote]\nurl = \"s3://%s/%s\"\n", env.S3Bucket, servers.Prefix(t))
			}
			s.ciRepo(lodeToml)
			for _, r := range []ciRecipe{gh, gl} {
				t.Run(filepath.Base(r.file), func(t *testing.T) {
					s.ciRun(r, r.scriptLine(t))
				})
			}
			if remoteKind != "embedded" {
				return
			}
			// --mount instead of a pull: the command reads the data
			// through the mount, and the work tree keeps its pointers.
			t.Run("mount", func(t *testing.T) {
				requireFUSE(t)
				mnt := filepath.Join(s.dir, "mnt")
				s.ciRun(gh, `docs/ci/lode-ci.sh --base origin/main --mount `+mnt+` --out lode-diff.md -- sh -c 'poetry run train "$LODE_DATA/data" out'`)
			})
		})
	}
}

// poetry runs poetry in dir (offline where that is allowed).
func (s *sandbox) poetry(dir string, args ...string) string {
	s.t.Helper()
	return s.run(dir, append(append(append([]string{}, trainJobOffline()...), "poetry"), args...)...)
}

// ciRepo makes server.git with main (v1 of the data, the model and
// metrics trained on it) and the branch feature (500 rows more), as a team
// would have them before a merge request.
func (s *sandbox) ciRepo(lodeToml string) {
	s.t.Helper()
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("dev")
	src, err := filepath.Abs("trainjob")
	if err != nil {
		s.t.Fatal(err)
	}
	if err := copyTrainJobProject(src, filepath.Join(s.dir, "dev")); err != nil {
		s.t.Fatal(err)
	}
	script, err := os.ReadFile(ciScript)
	if err != nil {
		s.t.Fatal(err)
	}
	s.write("dev/docs/ci/lode-ci.sh", script)
	if err := os.Chmod(filepath.Join(s.dir, "dev/docs/ci/lode-ci.sh"), 0o755); err != nil {
		s.t.Fatal(err)
	}
	s.write("dev/.gitignore", []byte(".venv/\n__pycache__/\n"))
	if lodeToml != "" {
		s.write("dev/.lode.toml", []byte(lodeToml))
	}
	s.run("dev", "git", "lode", "track", "*.csv")
	s.write("dev/data/train.csv", genCSV(20000, 1))
	s.poetry("dev", "install")
	s.run("dev", "poetry", "run", "train", "data", "out")
	s.run("dev", "git", "add", "-A")
	s.run("dev", "git", "commit", "-q", "-m", "v1: data, model, metrics")
	s.run("dev", "git", "push", "-q", "origin", "main")
	s.run("dev", "git", "checkout", "-q", "-b", "feature")
	s.write("dev/data/train.csv", append(genCSV(20000, 1), genCSV(500, 2)[len("id,day,value,label\n"):]...))
	s.run("dev", "git", "commit", "-q", "-am", "500 more rows")
	s.run("dev", "git", "push", "-q", "origin", "feature")
}

// ciRun runs line (recipe r's lode-ci.sh line) as its CI would: a
// pointers-only clone of feature, with the store in a cache directory
// outside it.
func (s *sandbox) ciRun(r ciRecipe, line string) {
	s.t.Helper()
	mount := strings.Contains(line, "--mount")
	name := "ci-" + strings.TrimSuffix(filepath.Base(r.file), ".yml")
	if mount {
		name += "-mount"
	}
	cacheDir := filepath.Join(s.dir, name+"-cache", "lode-store")
	env := append(append([]string{}, s.env...), "GIT_LODE_SKIP_SMUDGE=1", "LODE_STORE_DIR="+cacheDir)
	run := func(dir string, args ...string) string {
		s.t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = filepath.Join(s.dir, dir), env
		out, err := cmd.CombinedOutput()
		if err != nil {
			s.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("", "git", "clone", "-q", "-b", "feature", "server.git", name)
	if !bytes.HasPrefix(s.read(name+"/data/train.csv"), []byte("version lode/")) {
		s.t.Fatal("the CI checkout wrote data, not pointers")
	}
	run(name, append(append([]string{}, trainJobOffline()...), "poetry", "install")...)
	env = append(env, r.shellEnv()...)
	env = append(env, "LODE_STORE_DIR="+cacheDir) // the recipe's own place is the CI's
	out := run(name, "sh", "-c", line)
	switch pulled := bytes.Equal(s.read(name+"/data/train.csv"), s.read("dev/data/train.csv")); {
	case mount && pulled:
		s.t.Fatalf("lode-ci.sh --mount pulled data/train.csv:\n%s", out)
	case mount:
		if m, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(m, []byte(s.dir)) {
			s.t.Errorf("the mount is still there after lode-ci.sh:\n%s", m)
		}
	case !pulled:
		s.t.Fatalf("lode-ci.sh did not pull data/train.csv:\n%s", out)
	}
	md := string(s.read(name + "/lode-diff.md"))
	for _, want := range []string{
		"**lode diff** `origin/main` → `workspace`: 0 added, 2 modified, 0 deleted; **new to the store: ",
		"| data/train.csv | modified | 651.1 KiB | 666.6 KiB | 20000 → 20500 (+500) |",
		"| out/metrics.json | rows | 20000 | 20500 | +500 |",
		"| Path | Metric | origin/main | workspace | Change |",
	} {
		if !strings.Contains(md, want) {
			s.t.Errorf("lode-diff.md lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(out, "lode-ci.sh: wrote lode-diff.md") {
		s.t.Errorf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "packs")); err != nil && !mount {
		s.t.Errorf("the store is not in the cache directory: %v", err)
	}
	// A second run, from the warm cache, downloads nothing.
	out = run(name, "sh", "-c", line)
	if strings.Contains(out, "lode: fetch") || strings.Contains(out, "downloaded") {
		s.t.Errorf("second run downloaded again:\n%s", out)
	}
}
