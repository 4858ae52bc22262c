package datadiff

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/hooks/gitrepo"
)

// fixture is a git repository whose lode files' data is in a local store.
type fixture struct {
	t   *testing.T
	dir string
	env []string
	st  *store.Store
}

func newFixture(t *testing.T) *fixture {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH")
	}
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "gitconfig"), nil, 0o644)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(home, "gitconfig"),
		"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@x")
	f := &fixture{t: t, dir: filepath.Join(t.TempDir(), "repo"), env: env}
	f.git("init", "-q", "-b", "main", f.dir)
	st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	return f
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = f.dir
	if _, err := os.Stat(f.dir); err != nil {
		cmd.Dir = ""
	}
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// lode stores content and writes its pointer at path.
func (f *fixture) lode(path string, content []byte) pointer.Pointer {
	f.t.Helper()
	pk := f.st.NewPacker()
	p, err := filer.Clean(context.Background(), bytes.NewReader(content), pk, f.st.Codec(), filer.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := pk.Flush(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	pk.Close()
	f.write(path, p.Encode())
	return p
}

func (f *fixture) write(path string, content []byte) {
	f.t.Helper()
	full := filepath.Join(f.dir, path)
	os.MkdirAll(filepath.Dir(full), 0o755)
	if err := os.WriteFile(full, content, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) commit(msg string) plumbing.Hash {
	f.git("add", "-A")
	f.git("commit", "-q", "--allow-empty", "-m", msg)
	return plumbing.NewHash(f.git("rev-parse", "HEAD"))
}

func csvData(rows int, seed uint64, header string) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.WriteString(header + "\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,name%d,%.6f\n", i, r.IntN(1000), r.Float64())
	}
	return b.Bytes()
}

func TestDiffTrees(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v1csv := csvData(20000, 1, "id,name,score")
	f.lode("data/train.csv", v1csv)
	f.lode("data/same.bin", bytes.Repeat([]byte("same"), 50000))
	f.lode("gone.bin", bytes.Repeat([]byte("gone"), 1000))
	f.write("metrics.json", []byte(`{"acc": 0.5, "name": "a"}`))
	f.write("README.md", []byte("plain\n"))
	c1 := f.commit("v1")

	v2csv := append(bytes.Replace(v1csv, []byte("score"), []byte("value"), 1), csvData(500, 2, "x")[2:]...)
	f.lode("data/train.csv", v2csv)
	f.lode("data/copy.bin", bytes.Repeat([]byte("gone"), 1000)) // a rename: no new bytes
	os.Remove(filepath.Join(f.dir, "gone.bin"))
	f.write("metrics.json", []byte(`{"acc": 0.75, "name": "b"}`))
	f.write("README.md", []byte("plain, changed\n"))
	f.write("broken.bin", []byte("version lode/2\noid nonsense\n"))
	c2 := f.commit("v2")

	gr, err := gitrepo.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Close()
	var changes []RawChange
	if err := TreeChanges(ctx, gr, c1, c2, nil, func(c RawChange) error { changes = append(changes, c); return nil }); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, c := range changes {
		paths = append(paths, c.Path)
	}
	if got := strings.Join(paths, " "); got != "README.md broken.bin data/copy.bin data/train.csv gone.bin metrics.json" {
		t.Fatalf("changes %s", got)
	}
	res, err := Diff(ctx, changes, Options{Repo: gr, Store: f.st, Rows: RowsPolicy{FetchLimit: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, df := range res.Files {
		got = append(got, df.Path+":"+string(df.Status))
	}
	if g := strings.Join(got, " "); g != "broken.bin:added data/copy.bin:added data/train.csv:modified gone.bin:deleted metrics.json:modified" {
		t.Fatalf("files %s", g)
	}
	if res.Damaged != 1 || res.Files[0].New.Kind != KindDamaged {
		t.Errorf("damaged %d, %+v", res.Damaged, res.Files[0].New)
	}
	csv := res.Files[2].CSV
	if csv == nil || csv.Old == nil || csv.New == nil || csv.Old.Rows != 20000 || csv.New.Rows != 20500 || csv.Schema.String() != "renamed score -> value" {
		t.Fatalf("csv %+v", csv)
	}
	m := res.Files[4]
	if len(m.MetricChanges) != 2 || m.MetricChanges[0].Key != "acc" || m.MetricChanges[0].Delta != 0.25 || m.MetricChanges[1].HasDelta {
		t.Errorf("metrics %+v", m.MetricChanges)
	}
	// New bytes: the changed chunks of train.csv (its first and its
	// last few), not the renamed file, not the unchanged one.
	c := res.Cost
	if !c.Known || !c.StoredKnown || c.Chunks == 0 || c.Raw > int64(len(v2csv))/2 || c.Stored == 0 || c.Stored > c.Raw {
		t.Errorf("cost %+v (csv %d bytes)", c, len(v2csv))
	}

	// A selector limits the walk.
	changes = nil
	TreeChanges(ctx, gr, c1, c2, PathSelector([]string{"data"}), func(c RawChange) error { changes = append(changes, c); return nil })
	if len(changes) != 2 {
		t.Errorf("data/: %v", changes)
	}
	for p, want := range map[string]bool{"data": true, "data/train.csv": true, "nope": false, "data/nope": false, "metrics.json/x": false} {
		if ok, err := PathExists(gr, c1, p); err != nil || ok != want {
			t.Errorf("PathExists(%q) = %v, %v", p, ok, err)
		}
	}
}

func TestDiffWorkTreeAndMissingData(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v1 := csvData(5000, 1, "a,b,c")
	f.lode("d.csv", v1)
	f.write("metrics.yaml", []byte("acc: 0.5\n"))
	c1 := f.commit("v1")
	gr, err := gitrepo.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Close()
	blob := func(p string) plumbing.Hash { return plumbing.NewHash(f.git("rev-parse", "HEAD:"+p)) }

	// The work tree: d.csv's content, with rows added; metrics.yaml
	// with a value that is not a number; a file with the same content.
	v2 := append(bytes.Clone(v1), csvData(100, 3, "x")[2:]...)
	f.write("d.csv", v2)
	f.write("metrics.yaml", []byte("acc: high\n"))
	f.write("same.csv", v1)
	changes := []RawChange{
		{Path: "d.csv", Old: Side{Blob: blob("d.csv")}, New: Side{WorkTree: filepath.Join(f.dir, "d.csv"), Lode: true}},
		{Path: "metrics.yaml", Old: Side{Blob: blob("metrics.yaml")}, New: Side{WorkTree: filepath.Join(f.dir, "metrics.yaml")}},
		{Path: "same.csv", Old: Side{Blob: blob("d.csv")}, New: Side{WorkTree: filepath.Join(f.dir, "same.csv"), Lode: true}},
	}
	res, err := Diff(ctx, changes, Options{Repo: gr, Store: f.st})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 {
		t.Fatalf("files %+v", res.Files)
	}
	if cd := res.Files[0].CSV; cd.New == nil || cd.New.Rows != 5100 || cd.Old.Rows != 5000 {
		t.Errorf("csv %+v", cd)
	}
	if mc := res.Files[1].MetricChanges; len(mc) != 1 || mc[0].HasDelta || mc[0].New.Text != "high" {
		t.Errorf("metrics %+v", mc)
	}
	if !res.Cost.Known || !res.Cost.StoredKnown || res.Cost.Chunks == 0 {
		t.Errorf("cost %+v", res.Cost)
	}

	// With the data of the old side gone from the store and no remote,
	// the cost and the rows are unknown, and say why.
	empty, err := store.Open(filepath.Join(t.TempDir(), "empty"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	res, err = Diff(ctx, changes[:1], Options{Repo: gr, Store: empty})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cost.Known || !strings.Contains(res.Cost.Unknown, "not in the local store") {
		t.Errorf("cost %+v", res.Cost)
	}
	if cd := res.Files[0].CSV; cd.Old != nil || !strings.Contains(cd.OldNote, "not in the local store") || cd.New == nil {
		t.Errorf("csv %+v", cd)
	}
	_ = c1
}
