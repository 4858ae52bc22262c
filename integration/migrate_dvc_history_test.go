package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// newDVCHistory lays a repository out as DVC would over four commits,
// without DVC: a CSV (DVC 3's md5 and cache layout) changing versions, a
// directory (DVC 2: a CRLF text file under the dos2unix md5, a file in a
// subdirectory) whose files change, appear and go, an executable model
// whose .dvc file and .gitignore are removed in the third commit, their
// .gitignore lines (beside a line that is not DVC's), and dvc.yaml,
// dvc.lock, .dvc/config and metrics that stay. The work tree keeps DVC's
// copies of the outputs (ignored), as a DVC user's would. It returns the
// commits, oldest first, and the cache paths of each version of the CSV.
func newDVCHistory(s *sandbox, name string) (commits []string, tableObjs []string) {
	s.t.Helper()
	s.run("", "git", "init", "-q", name)
	s.write(name+"/.dvc/config", []byte("[core]\n    remote = storage\n"))
	s.write(name+"/.dvc/.gitignore", []byte("/config.local\n/tmp\n/cache\n"))
	s.write(name+"/dvc.yaml", []byte("stages:\n  train:\n    cmd: python train.py\n    deps:\n    - data/table.csv\n"))
	s.write(name+"/dvc.lock", []byte("schema: '2.0'\nstages: {}\n"))
	s.write(name+"/README", []byte("a project\n"))
	commit := func(msg string) {
		s.run(name, "git", "add", "-A")
		s.run(name, "git", "commit", "-q", "-m", msg)
		commits = append(commits, strings.TrimSpace(s.run(name, "git", "rev-parse", "HEAD")))
	}
	table := func(v uint64) {
		b := append(genCSV(20000, 1), genCSV(200*int(v), 10+v)...)
		s.write(name+"/data/table.csv", b)
		sum := s.dvcCachePut(name, b, "", false)
		tableObjs = append(tableObjs, filepath.Join(name, ".dvc/cache/files/md5", sum[:2], sum[2:]))
		s.write(name+"/data/table.csv.dvc", []byte(fmt.Sprintf("outs:\n- md5: %s\n  size: %d\n  hash: md5\n  path: table.csv\n", sum, len(b))))
	}
	images := func(files map[string][]byte) {
		os.RemoveAll(filepath.Join(s.dir, name, "images"))
		var entries []string
		for _, p := range slices.Sorted(func(yield func(string) bool) {
			for p := range files {
				if !yield(p) {
					return
				}
			}
		}) {
			b := files[p]
			s.write(name+"/images/"+p, b)
			sum := md5Hex(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
			s.dvcCachePut(name, b, sum, true)
			entries = append(entries, fmt.Sprintf(`{"md5": "%s", "relpath": "%s"}`, sum, p))
		}
		listing := []byte("[" + strings.Join(entries, ", ") + "]")
		dir := s.dvcCachePut(name, listing, md5Hex(listing)+".dir", true)
		s.write(name+"/images.dvc", []byte(fmt.Sprintf("outs:\n- md5: %s\n  nfiles: %d\n  path: images\n", dir, len(files))))
	}
	table(1)
	s.write(name+"/data/.gitignore", []byte("/table.csv\n"))
	model := genRand(100<<10, 3)
	s.write(name+"/models/model.bin", model)
	s.dvcCachePut(name, model, "", true)
	s.write(name+"/models/model.bin.dvc", []byte(fmt.Sprintf("outs:\n  - md5: %s\n    size: %d\n    isexec: true\n    path: model.bin\n", md5Hex(model), len(model))))
	s.write(name+"/models/.gitignore", []byte("/model.bin\n"))
	images(map[string][]byte{"notes.txt": []byte("line one\r\nline two\r\n"), "sub/deep.csv": genCSV(300, 4)})
	s.write(name+"/.gitignore", []byte("/images\n*.tmp\n"))
	commit("data v1")
	table(2)
	images(map[string][]byte{"notes.txt": []byte("line one\r\nline two, again\r\n"), "new.csv": genCSV(400, 5)})
	commit("data v2: images changed, one gone, one new")
	s.run(name, "git", "rm", "-q", "models/model.bin.dvc", "models/.gitignore")
	s.write(name+"/README", []byte("a project, no model\n"))
	commit("drop the model")
	table(3)
	commit("data v3")
	return commits, tableObjs
}

// dvcExpected is what a commit of the DVC history should check out as
// after the migration (path -> SHA-256, .gitattributes left out, as
// checkedOut gives it), worked out from the old commit's checkout and
// the DVC cache, independently of lode: each .dvc file replaced by its
// outputs' content from the cache (the md5 checked here), and DVC's
// "/NAME" lines dropped from .gitignore (an emptied one gone).
func dvcExpected(s *sandbox, repo, commit string, old map[string]string) (map[string]string, []string) {
	s.t.Helper()
	want := map[string]string{}
	for p, sum := range old {
		want[p] = sum
	}
	outRE := regexp.MustCompile(`md5: ([0-9a-f]{32}(?:\.dir)?)\n(?:.*\n)*?\s*path: (\S+)`)
	cache := func(sum string) []byte {
		for _, p := range []string{".dvc/cache/files/md5/" + sum[:2] + "/" + sum[2:], ".dvc/cache/" + sum[:2] + "/" + sum[2:]} {
			if b, err := os.ReadFile(filepath.Join(s.dir, repo, p)); err == nil {
				check := strings.TrimSuffix(sum, ".dir")
				if md5Hex(b) != check && md5Hex(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))) != check {
					s.t.Fatalf("the test's cache object %s does not hash to its name", sum)
				}
				return b
			}
		}
		s.t.Fatalf("commit %s: %s is not in the cache", commit, sum)
		return nil
	}
	sha := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	var outs []string
	ignored := map[string][]string{} // .gitignore -> DVC's lines
	for p := range old {
		if !strings.HasSuffix(p, ".dvc") || strings.HasPrefix(p, ".dvc/") {
			continue
		}
		delete(want, p)
		m := outRE.FindStringSubmatch(s.run(repo, "git", "show", commit+":"+p))
		if m == nil {
			s.t.Fatalf("commit %s: %s: no output", commit, p)
		}
		out := path.Join(path.Dir(p), m[2])
		outs = append(outs, out)
		gi := path.Join(path.Dir(out), ".gitignore")
		ignored[gi] = append(ignored[gi], "/"+path.Base(out))
		if !strings.HasSuffix(m[1], ".dir") {
			want[out] = sha(cache(m[1]))
			continue
		}
		var entries []struct{ MD5, RelPath string }
		if err := json.Unmarshal(cache(m[1]), &entries); err != nil {
			s.t.Fatal(err)
		}
		for _, e := range entries {
			want[path.Join(out, e.RelPath)] = sha(cache(e.MD5))
		}
	}
	for gi, drop := range ignored {
		if _, ok := old[gi]; !ok {
			continue
		}
		var keep []string
		for _, l := range strings.SplitAfter(s.run(repo, "git", "show", commit+":"+gi), "\n") {
			if l != "" && !slices.Contains(drop, strings.TrimSpace(l)) {
				keep = append(keep, l)
			}
		}
		if len(keep) == 0 {
			delete(want, gi)
		} else {
			want[gi] = sha([]byte(strings.Join(keep, "")))
		}
	}
	slices.Sort(outs)
	return want, outs
}

// The DVC history is rewritten: every new commit checks out, byte for
// byte, what its old commit's .dvc files name in the DVC cache, at their
// paths, with the rest of the old tree (dvc.yaml, dvc.lock, .dvc/config
// included) and DVC's .gitignore lines gone; no .dvc file is left; each
// commit's .gitattributes names its own outputs; main is backed up; the
// work tree is clean and holds the last version.
func TestMigrateFromDVCRewriteHistory(t *testing.T) {
	s := newSandbox(t)
	old, _ := newDVCHistory(s, "repo")
	s.run("repo", "git", "lode", "install", "--local")
	before := checkedOut(s, "repo", old)
	refs := s.run("repo", "git", "for-each-ref")
	info := s.run("repo", "git", "lode", "migrate", "import", "--from-dvc", "--rewrite-history", "--dry-run")
	for _, w := range []string{"commits            4", ".dvc files         6 version(s)", "files              8 version(s)", "DVC objects        8 in the cache", "not in the cache   0"} {
		if !strings.Contains(info, w) {
			t.Fatalf("dry run: no %q in\n%s", w, info)
		}
	}
	if now := s.run("repo", "git", "for-each-ref"); now != refs {
		t.Fatal("the dry run moved refs")
	}
	if out, err := s.try("repo", nil, "git", "lode", "migrate", "import", "--from-dvc", "--rewrite-history", "data/table.csv.dvc"); err == nil || !strings.Contains(out, "name branches, tags or ranges") {
		t.Fatalf("a .dvc file named: %s", out)
	}

	newOf, mapText := runMigration(s, "repo", "--from-dvc", "--rewrite-history")
	var nw []string
	for _, c := range old {
		if newOf[c] == "" || newOf[c] == c {
			t.Fatalf("commit %s mapped to %q:\n%s", c, newOf[c], mapText)
		}
		nw = append(nw, newOf[c])
	}
	if got := s.lines("repo", "git", "rev-list", "--reverse", "main"); !slices.Equal(got, nw) {
		t.Fatalf("main holds %v, the map says %v", got, nw)
	}
	if got := strings.TrimSpace(s.run("repo", "git", "rev-parse", "refs/lode-migrate/original/heads/main")); got != old[3] {
		t.Fatalf("backup of main: %s", got)
	}
	after := checkedOut(s, "repo", nw)
	for i, c := range old {
		want, outs := dvcExpected(s, "repo", c, before[c])
		got := after[nw[i]]
		for p, sum := range want {
			if got[p] != sum {
				t.Errorf("commit %d: %s: %.12s, want %.12s", i+1, p, got[p], sum)
			}
		}
		for p := range got {
			if _, ok := want[p]; !ok {
				t.Errorf("commit %d: %s should not be there", i+1, p)
			}
		}
		ls := s.run("repo", "git", "lode", "ls-files", nw[i])
		attrs := s.run("repo", "git", "show", nw[i]+":.gitattributes")
		for _, o := range outs {
			if !strings.Contains(ls, o) {
				t.Errorf("commit %d: %s is not a lode file:\n%s", i+1, o, ls)
			}
			line := "/" + o + " filter=lode -text"
			if o == "images" {
				line = "/images/** filter=lode -text"
			}
			if !strings.Contains(attrs, line+"\n") {
				t.Errorf("commit %d: .gitattributes has no %q:\n%s", i+1, line, attrs)
			}
		}
		if (i < 2) != strings.Contains(attrs, "model.bin") {
			t.Errorf("commit %d: .gitattributes:\n%s", i+1, attrs)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if mode := s.run("repo", "git", "ls-tree", nw[0], "models/model.bin"); !strings.HasPrefix(mode, "100755 ") {
		t.Fatalf("the model is not executable: %s", mode)
	}
	if gi := s.run("repo", "git", "show", nw[0]+":.gitignore"); gi != "*.tmp\n" {
		t.Fatalf(".gitignore: %q", gi)
	}
	if st := s.run("repo", "git", "status", "--porcelain"); st != "" {
		t.Fatalf("work tree after the migration:\n%s", st)
	}
	if !bytes.Equal(s.read("repo/data/table.csv"), append(genCSV(20000, 1), genCSV(600, 13)...)) {
		t.Fatal("the work tree's table.csv is not the last version")
	}
	// A clone of the rewritten history gets the files through lode.
	s.run("", "git", "lode", "install")
	s.run("", "git", "clone", "-q", "repo", "clone")
	if !bytes.Equal(s.read("clone/images/new.csv"), genCSV(400, 5)) {
		t.Fatal("the clone's images/new.csv differs")
	}
}

// A migration that meets a missing, then a damaged, DVC object in the
// last commit fails naming the commit, the file, the md5 and what to run,
// and leaves every ref, the work tree and the index as they were, with no
// temporary ref; with the object back it runs.
func TestMigrateFromDVCRewriteInterrupted(t *testing.T) {
	s := newSandbox(t)
	old, tableObjs := newDVCHistory(s, "repo")
	s.run("repo", "git", "lode", "install", "--local")
	refs := func() string { return s.run("repo", "git", "for-each-ref", "--format=%(refname) %(objectname)") }
	oldRefs := refs()
	last := tableObjs[2]
	good := s.read(last)
	sum := filepath.Base(filepath.Dir(last)) + filepath.Base(last)
	os.Remove(filepath.Join(s.dir, last))
	if info := s.run("repo", "git", "lode", "migrate", "import", "--from-dvc", "--rewrite-history", "--dry-run"); !strings.Contains(info, "not in the cache   1 ") {
		t.Fatalf("dry run:\n%s", info)
	}
	for _, damage := range []string{"missing", "damaged"} {
		if damage == "damaged" {
			bad := bytes.Clone(good)
			bad[len(bad)/2] ^= 1
			s.write(last, bad)
		}
		out := s.fail("repo", "git", "lode", "migrate", "import", "--from-dvc", "--rewrite-history")
		for _, w := range []string{old[3], "data/table.csv", sum, "no ref was changed"} {
			if !strings.Contains(out, w) {
				t.Fatalf("%s object: no %q in\n%s", damage, w, out)
			}
		}
		if damage == "missing" && !strings.Contains(out, "dvc fetch --all-commits") {
			t.Fatalf("missing object: no hint in\n%s", out)
		}
		if now := refs(); now != oldRefs {
			t.Fatalf("%s object: the refs changed:\n%s\nwere:\n%s", damage, now, oldRefs)
		}
		if st := s.run("repo", "git", "status", "--porcelain"); st != "" {
			t.Fatalf("%s object: work tree:\n%s", damage, st)
		}
		if _, err := os.Stat(filepath.Join(s.dir, "repo/images.dvc")); err != nil {
			t.Fatalf("%s object: %v", damage, err)
		}
	}
	s.write(last, good)
	s.run("repo", "git", "lode", "migrate", "import", "--from-dvc", "--rewrite-history")
	if got := strings.TrimSpace(s.run("repo", "git", "rev-parse", "refs/lode-migrate/original/heads/main")); got != old[3] {
		t.Fatalf("backup of main: %s", got)
	}
	if ls := s.run("repo", "git", "ls-files"); strings.Contains(ls, ".dvc\n") {
		t.Fatalf("a .dvc file is left:\n%s", ls)
	}
}
