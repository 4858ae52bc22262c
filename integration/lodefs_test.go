package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// systemPython is Debian's Python, which has Debian's python3-fsspec and
// python3-pandas (and which Poetry runs on).
const systemPython = "/usr/bin/python3"

// requireFsspec skips the test (or fails it with LODE_TEST_REQUIRE_TOOLS)
// unless the system Python has fsspec.
func requireFsspec(t *testing.T) {
	t.Helper()
	if err := exec.Command(systemPython, "-c", "import fsspec").Run(); err != nil {
		if os.Getenv("LODE_TEST_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s cannot import fsspec (LODE_TEST_REQUIRE_TOOLS is set): run 'make deps' (python3-fsspec)", systemPython)
		}
		t.Skipf("%s cannot import fsspec; run 'make deps' (python3-fsspec)", systemPython)
	}
}

// pythonDir is the checkout's python/ directory, where lodefs lives.
func pythonDir(t *testing.T) string {
	d, err := filepath.Abs("../python")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// lodefsEnv is what a Python program needs to use lodefs from the
// checkout with this test run's git-lode, reading repo by default.
func lodefsEnv(t *testing.T, repo string) []string {
	return []string{"PYTHONPATH=" + pythonDir(t), "LODEFS_GIT_LODE=" + filepath.Join(binDir, "git-lode"), "LODEFS_REPO=" + repo}
}

// lodefs's own tests (python/tests) pass against this build of git-lode:
// listings, ranges, pandas, resolve, errors, forked workers, no server
// left behind.
func TestLodefs(t *testing.T) {
	requireFsspec(t)
	s := newSandbox(t)
	cmd := exec.Command(systemPython, "-m", "unittest", "-v")
	cmd.Dir = pythonDir(t)
	cmd.Env = append(append([]string{}, s.env...), "LODEFS_GIT_LODE="+filepath.Join(binDir, "git-lode"), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nOK") {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	t.Logf("%s", lastLines(string(out), 3))
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// lodefs installs with Poetry from the checkout, offline, and fsspec then
// finds the "lode" protocol by its entry point, without importing lodefs.
func TestLodefsPoetry(t *testing.T) {
	requireTool(t, "poetry")
	requireFsspec(t)
	f := newServeFixture(t)
	s := f.sandbox
	proj := filepath.Join(s.dir, "lodefs-project")
	if err := copyTrainJobProject(pythonDir(t), proj); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(s.dir, "poetry-home")
	env := append(isolatedEnv(home),
		"POETRY_CACHE_DIR="+filepath.Join(home, "cache"), "POETRY_CONFIG_DIR="+filepath.Join(home, "config"),
		"POETRY_VIRTUALENVS_CREATE=true", "POETRY_VIRTUALENVS_IN_PROJECT=true",
		"POETRY_VIRTUALENVS_PREFER_ACTIVE_PYTHON=false", "POETRY_NO_INTERACTION=1",
		"PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring",
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"LODEFS_GIT_LODE="+filepath.Join(binDir, "git-lode"))
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = proj, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("poetry", "env", "use", systemPython) // Debian's, which has fsspec
	run(append(trainJobOffline(), "poetry", "install")...)
	code := `import sys, fsspec
fs = fsspec.filesystem("lode", repo=sys.argv[1])
sys.stdout.buffer.write(fs.cat("lode://v1/data/train.csv"))`
	out := run("poetry", "run", "python", "-c", code, filepath.Join(s.dir, "c"))
	if !bytes.Equal([]byte(out), f.v1) {
		t.Fatalf("fsspec.filesystem(\"lode\") through the entry point read %d bytes, want %d", len(out), len(f.v1))
	}
}

// The training job reads its data through lode://REV/... as well as
// through a mount of REV, with byte-identical model and metrics, and
// records the commit; the model it wrote, committed as a lode file, loads
// and predicts the same through the mount, through lode:// and through
// git lode serve's URL, as a model server would load it.
func TestTrainJobLode(t *testing.T) {
	requireTool(t, "poetry")
	requireFsspec(t)
	f := newMountFixture(t)
	s := f.sandbox
	c := filepath.Join(s.dir, "c")
	env := lodefsEnv(t, c)
	f.mount("v1", "m")
	outMount, outLode := filepath.Join(s.dir, "out-mount"), filepath.Join(s.dir, "out-lode")
	runTrainJob(t, filepath.Join(s.dir, "m", "data"), outMount)
	if out, err := poetryRun(t, env, "train", "lode://v1/data", outLode); err != nil {
		t.Fatalf("train lode://v1/data: %v\n%s", err, out)
	}
	for _, name := range []string{"model.json", "metrics.json"} {
		a, b := s.read("out-mount/"+name), s.read("out-lode/"+name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the mount and lode://:\n%s\n%s", name, a, b)
		}
	}
	v1 := strings.TrimSpace(s.run("c", "git", "rev-parse", "v1"))
	var src struct{ Data, Commit string }
	if err := json.Unmarshal(s.read("out-lode/source.json"), &src); err != nil || src.Commit != v1 || src.Data != "lode://v1/data" {
		t.Errorf("source.json: %+v %v, want commit %s", src, err, v1)
	}
	if out, err := poetryRun(t, env, "train", "lode://v1/nope", filepath.Join(s.dir, "out-nope")); err == nil || !strings.Contains(out, "train: error: lode://") {
		t.Errorf("train on a missing lode:// folder: %v\n%s", err, out)
	}

	// The model, committed as a lode file and pushed.
	model := s.read("out-mount/model.json")
	s.run("a", "git", "lode", "track", "models/*.json")
	s.write("a/models/model.json", model)
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "model")
	s.run("a", "git", "tag", "model-1")
	s.run("a", "git", "push", "-q", "origin", "main", "model-1")
	s.run("c", "git", "fetch", "-q", "origin", "--tags")
	if blob := s.run("c", "git", "cat-file", "blob", "model-1:models/model.json"); !strings.HasPrefix(blob, "version lode/") {
		t.Fatalf("models/model.json is not a lode pointer in git:\n%s", blob)
	}
	f.mount("model-1", "mm")
	srv := s.serve("c", "--addr", "127.0.0.1:0", "model-1")
	data := filepath.Join(s.dir, "m", "data", "train.csv")
	results := map[string]string{}
	for name, where := range map[string]string{
		"mount":  filepath.Join(s.dir, "mm", "models", "model.json"),
		"lode":   "lode://model-1/models/model.json",
		"served": srv.url + "model-1/models/model.json",
	} {
		out, err := poetryRun(t, env, "python", "-m", "trainjob.predict", where, data)
		if err != nil {
			t.Fatalf("predict with the model from %s: %v\n%s", where, err, out)
		}
		results[name] = strings.TrimSpace(lastLines(out, 1))
	}
	if results["mount"] != results["lode"] || results["mount"] != results["served"] || !strings.Contains(results["mount"], `"rows": 120000`) {
		t.Errorf("predictions differ by where the model was loaded from: %v", results)
	}
	t.Logf("predict: %s", results["mount"])
}

// pngImage makes a small PNG, different for each seed.
func pngImage(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 11))
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 48; x++ {
			img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(x * 5), uint8(y * 7), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// A Label Studio import file made for a folder of images at a pinned
// commit points at git lode serve, and every task URL answers the
// committed image's bytes (also after the branch moves on); annotations
// exported from Label Studio go back into the repository as a lode file,
// served and read like any other.
func TestLabelStudio(t *testing.T) {
	requireFsspec(t)
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.png", "annotations/*.json")
	images := map[string][]byte{}
	for i := range 12 {
		name := fmt.Sprintf("images/cat %02d.png", i)
		if i >= 8 {
			name = fmt.Sprintf("images/more/dog-%d.png", i)
		}
		images[name] = pngImage(uint64(i))
		s.write("a/"+name, images[name])
	}
	s.write("a/images/README.txt", []byte("not an image\n"))
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "images")
	s.run("a", "git", "tag", "images-v1")
	s.run("a", "git", "push", "-q", "origin", "main", "images-v1")
	commit := strings.TrimSpace(s.run("a", "git", "rev-parse", "images-v1"))

	srv := s.serve("a", "--addr", "127.0.0.1:0", "images-v1")
	cmd := exec.Command(systemPython, "-m", "lodefs.labelstudio", "--url", srv.url, "images-v1", "images")
	cmd.Dir = filepath.Join(s.dir, "a")
	cmd.Env = append(append([]string{}, s.env...), lodefsEnv(t, filepath.Join(s.dir, "a"))...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lodefs.labelstudio: %v\n%s", err, stderr.String())
	}
	var tasks []struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(out, &tasks); err != nil {
		t.Fatalf("import file: %v\n%s", err, out)
	}
	if len(tasks) != len(images) {
		t.Fatalf("%d tasks for %d images:\n%s", len(tasks), len(images), out)
	}
	// The branch moves on; the tasks still show the pinned commit's bytes.
	s.write("a/images/cat 00.png", pngImage(99))
	s.run("a", "git", "commit", "-q", "-am", "replace an image")
	for _, task := range tasks {
		u := task.Data["image"]
		if !strings.HasPrefix(u, srv.url+commit+"/images/") || task.Data["lode_commit"] != commit {
			t.Errorf("task URL %q does not name the pinned commit %s", u, commit)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := images[task.Data["lode_path"]]
		if resp.StatusCode != 200 || want == nil || !bytes.Equal(b, want) || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("task %s: %d, %d bytes, %s (want %d bytes)", u, resp.StatusCode, len(b), resp.Header.Get("Content-Type"), len(want))
		}
		if resp.Header.Get("ETag") != `"`+task.Data["lode_oid"]+`"` {
			t.Errorf("task %s: ETag %s, lode_oid %s", u, resp.Header.Get("ETag"), task.Data["lode_oid"])
		}
	}

	// Annotations exported from Label Studio (its JSON export) are
	// committed back as tracked data.
	var export []map[string]any
	for i, task := range tasks {
		export = append(export, map[string]any{
			"id": i + 1, "data": task.Data,
			"annotations": []map[string]any{{"id": i + 1, "result": []map[string]any{{
				"from_name": "label", "to_name": "img", "type": "choices",
				"value": map[string]any{"choices": []string{map[bool]string{true: "dog", false: "cat"}[strings.Contains(task.Data["lode_path"], "dog")]}},
			}}}},
		})
	}
	exportJSON, err := json.MarshalIndent(export, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	s.write("a/annotations/export.json", exportJSON)
	s.run("a", "git", "add", "annotations")
	s.run("a", "git", "commit", "-q", "-m", "annotations from Label Studio")
	if blob := s.run("a", "git", "cat-file", "blob", "HEAD:annotations/export.json"); !strings.HasPrefix(blob, "version lode/") {
		t.Fatalf("the export is not a lode file in git:\n%s", blob)
	}
	s.run("a", "git", "push", "-q", "origin", "main")
	s.run("", "git", "clone", "-q", "server.git", "b")
	if !bytes.Equal(s.read("b/annotations/export.json"), exportJSON) {
		t.Error("a clone's annotations/export.json differs")
	}
	all := s.serve("b", "--addr", "127.0.0.1:0")
	if resp, b := all.get("/main/annotations/export.json"); resp.StatusCode != 200 || !bytes.Equal(b, exportJSON) {
		t.Errorf("served export: %d, %d bytes", resp.StatusCode, len(b))
	}
}
