package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// trainJob is the Poetry project in integration/trainjob (a deterministic,
// standard-library-only training job; see its README.md), installed in a
// temporary directory for one test.
type trainJob struct {
	dir string   // the installed copy of the project, with its .venv
	env []string // HOME, Poetry's cache and config all under the test's temporary directory
}

var (
	trainJobs sync.Map // *testing.T -> *trainJob

	trainJobOfflineOnce sync.Once
	trainJobOfflineCmd  []string
)

// trainJobOffline returns a command prefix that runs a command without
// network access (a new network namespace), or nil where that is not
// allowed. poetry install must work offline; this makes the test prove it.
func trainJobOffline() []string {
	trainJobOfflineOnce.Do(func() {
		for _, prefix := range [][]string{{"unshare", "-n"}, {"unshare", "-rn"}} {
			if exec.Command(prefix[0], append(prefix[1:], "true")...).Run() == nil {
				trainJobOfflineCmd = prefix
				return
			}
		}
	})
	return trainJobOfflineCmd
}

// installTrainJob copies integration/trainjob to a temporary directory and
// runs `poetry install` there, once per test: Poetry makes a virtualenv in
// the project (.venv) from the Python it runs on and installs the project
// into it (editable, no network). Skips the test without poetry.
func installTrainJob(t *testing.T) *trainJob {
	t.Helper()
	if j, ok := trainJobs.Load(t); ok {
		return j.(*trainJob)
	}
	requireTool(t, "poetry")
	start := time.Now()
	src, err := filepath.Abs("trainjob")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	j := &trainJob{dir: filepath.Join(tmp, "trainjob")}
	if err := copyTrainJobProject(src, j.dir); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(tmp, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	j.env = append(isolatedEnv(home),
		"POETRY_CACHE_DIR="+filepath.Join(home, "poetry-cache"),
		"POETRY_CONFIG_DIR="+filepath.Join(home, "poetry-config"),
		"POETRY_VIRTUALENVS_CREATE=true",
		"POETRY_VIRTUALENVS_IN_PROJECT=true",
		"POETRY_VIRTUALENVS_PREFER_ACTIVE_PYTHON=false",
		"POETRY_NO_INTERACTION=1",
		"PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring",
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
	)
	// Debian's Python, whose packages (fsspec, for lode:// input) the
	// virtualenv sees (poetry.toml), whatever python3 comes first on PATH.
	if _, err := os.Stat(systemPython); err == nil {
		cmd := exec.Command("poetry", "env", "use", systemPython)
		cmd.Dir, cmd.Env = j.dir, j.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("poetry env use %s: %v\n%s", systemPython, err, out)
		}
	}
	args := append(append([]string{}, trainJobOffline()...), "poetry", "install")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = j.dir, j.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("trainjob: %s in %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	trainJobs.Store(t, j)
	t.Cleanup(func() { trainJobs.Delete(t) })
	return j
}

// copyTrainJobProject copies the project's source, without any virtualenv,
// bytecode or build output left in it.
func copyTrainJobProject(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(name, ".") || name == "__pycache__" || name == "dist") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || strings.HasSuffix(name, ".pyc") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// tryTrainJob runs `poetry run train DATA_DIR OUT_DIR` (installing the
// project first if this test has not) and returns its combined output.
// Relative directories are taken from the test's working directory.
func tryTrainJob(t *testing.T, dataDir, outDir string) (string, error) {
	t.Helper()
	j := installTrainJob(t)
	var err error
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		t.Fatal(err)
	}
	if outDir, err = filepath.Abs(outDir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("poetry", "run", "train", dataDir, outDir)
	cmd.Dir, cmd.Env = j.dir, j.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// poetryRun runs `poetry run ARGS...` in the training job's project
// (installing it first if this test has not), with env added to its
// environment, and returns its combined output.
func poetryRun(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	j := installTrainJob(t)
	cmd := exec.Command("poetry", append([]string{"run"}, args...)...)
	cmd.Dir, cmd.Env = j.dir, append(append([]string{}, j.env...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runTrainJob runs the training job on the CSV files under dataDir (a
// directory, searched recursively, or one file) and writes
// outDir/model.json and outDir/metrics.json, which are byte-identical for
// identical input; it fails the test if the job fails. The first call in a
// test installs the project (about a second).
func runTrainJob(t *testing.T, dataDir, outDir string) string {
	t.Helper()
	out, err := tryTrainJob(t, dataDir, outDir)
	if err != nil {
		t.Fatalf("train %s %s: %v\n%s", dataDir, outDir, err, out)
	}
	return out
}

// The training job installs offline, gives byte-identical output for the
// same data (wherever it lives) and different output for different data,
// and fails clearly on a malformed file; its own unit tests pass.
func TestTrainJob(t *testing.T) {
	requireTool(t, "poetry")
	start := time.Now()
	dir := t.TempDir()
	write := func(rel string, b []byte) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Dir(p)
	}
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const rows = 20000
	csvA, csvB := genCSV(rows, 1), genCSV(rows, 2)
	dataA := write("a/data/train.csv", csvA)
	dataA2 := write("a2/data/train.csv", csvA) // same bytes elsewhere
	dataB := write("b/data/train.csv", csvB)

	installTrainJob(t)
	installed := time.Now()
	for _, run := range []struct{ data, out string }{
		{dataA, "out/a1"}, {dataA, "out/a2"}, {dataA2, "out/a3"}, {dataB, "out/b"},
	} {
		out := runTrainJob(t, run.data, filepath.Join(dir, run.out))
		t.Logf("%s: %s", run.out, strings.TrimSpace(out))
	}
	ran := time.Now()

	for _, name := range []string{"model.json", "metrics.json"} {
		a1 := read("out/a1/" + name)
		for _, o := range []string{"out/a2/", "out/a3/"} {
			if !bytes.Equal(a1, read(o+name)) {
				t.Errorf("%s differs between runs on the same data:\n%s\n%s", name, a1, read(o+name))
			}
		}
		if bytes.Equal(a1, read("out/b/"+name)) {
			t.Errorf("%s is the same for different data", name)
		}
		if bytes.Contains(a1, []byte(dir)) {
			t.Errorf("%s mentions the data's location", name)
		}
	}
	var m struct {
		Rows       int     `json:"rows"`
		InputBytes int     `json:"input_bytes"`
		Accuracy   float64 `json:"train_accuracy"`
		Files      []struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal(read("out/a1/metrics.json"), &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(csvA)
	if m.Rows != rows || m.InputBytes != len(csvA) || len(m.Files) != 1 || m.Files[0].Path != "train.csv" ||
		m.Files[0].SHA256 != hex.EncodeToString(sum[:]) || m.Accuracy <= 0 || m.Accuracy > 1 {
		t.Errorf("metrics: %+v, want %d rows, %d bytes, train.csv with SHA-256 %x", m, rows, len(csvA), sum)
	}

	// A row with a missing field: exit status 1 and the file and line.
	bad := append(bytes.Clone(csvA[:bytes.IndexByte(csvA, '\n')+1]), "0,2026-01-01,1.5,class1\n1,2026-01-02,2.5\n"...)
	out, err := tryTrainJob(t, write("bad/data/train.csv", bad), filepath.Join(dir, "out/bad"))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "train: error: ") ||
		!strings.Contains(out, "train.csv:3: expected 4 fields, got 3") {
		t.Errorf("malformed CSV: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out/bad/model.json")); err == nil {
		t.Error("model.json written for a malformed CSV")
	}

	// The project's own unit tests, in its virtualenv.
	j := installTrainJob(t)
	cmd := exec.Command("poetry", "run", "python", "-m", "unittest", "-q")
	cmd.Dir, cmd.Env = j.dir, j.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("python -m unittest: %v\n%s", err, out)
	}
	t.Logf("install %v, 4 runs of %d rows %v, total %v", installed.Sub(start).Round(time.Millisecond),
		rows, ran.Sub(installed).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
