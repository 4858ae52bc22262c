package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// dvcCachePut writes b into the DVC cache of repo under its md5 (sum, if
// not empty), in DVC 3's layout or, with old, DVC 2's.
func (s *sandbox) dvcCachePut(repo string, b []byte, sum string, old bool) string {
	if sum == "" {
		sum = md5Hex(b)
	}
	name := strings.TrimSuffix(sum, ".dir")
	rest := name[2:] + strings.TrimPrefix(sum, name)
	p := filepath.Join(repo, ".dvc/cache/files/md5", name[:2], rest)
	if old {
		p = filepath.Join(repo, ".dvc/cache", name[:2], rest)
	}
	s.write(p, b)
	return sum
}

// newDVCRepo lays a repository out as DVC leaves it, without DVC: a .dvc
// file for a CSV (DVC 3, cache in files/md5, the work-tree copy present),
// one for a model whose work-tree copy is missing (DVC 2's md5 and cache
// layout), one for a directory (a .dir listing, a CRLF text file under
// DVC 2's dos2unix md5, a file in a subdirectory), their .gitignore
// lines, a dvc.yaml, dvc.lock and metrics file that stay. Two commits:
// the data changes between them.
func newDVCRepo(s *sandbox, name string) map[string][]byte {
	s.t.Helper()
	s.run("", "git", "init", "-q", name)
	s.write(name+"/.dvc/config", []byte("[core]\n    remote = storage\n"))
	s.write(name+"/.dvc/.gitignore", []byte("/config.local\n/tmp\n/cache\n"))
	s.write(name+"/dvc.yaml", []byte("stages:\n  train:\n    cmd: python train.py\n    deps:\n    - data/table.csv\n    metrics:\n    - metrics.json\n"))
	s.write(name+"/dvc.lock", []byte("schema: '2.0'\nstages: {}\n"))
	s.write(name+"/metrics.json", []byte(`{"acc": 0.9}`+"\n"))
	files := map[string][]byte{}
	version := func(v uint64) {
		table := genCSV(20000+int(v)*100, 1)
		model := genRand(100<<10, 10+v)
		crlf := []byte(fmt.Sprintf("line one\r\nline two %d\r\n", v))
		deep := genCSV(300, 20+v)
		files["data/table.csv"], files["models/model.bin"], files["images/notes.txt"], files["images/sub/deep.csv"] = table, model, crlf, deep
		s.write(name+"/data/table.csv", table)
		s.dvcCachePut(name, table, "", false)
		s.write(name+"/data/table.csv.dvc", []byte(fmt.Sprintf("outs:\n- md5: %s\n  size: %d\n  hash: md5\n  path: table.csv\n", md5Hex(table), len(table))))
		s.write(name+"/data/.gitignore", []byte("/table.csv\n"))
		s.dvcCachePut(name, model, "", true)
		os.Remove(filepath.Join(s.dir, name, "models/model.bin"))
		s.write(name+"/models/model.bin.dvc", []byte(fmt.Sprintf("outs:\n  - md5: %s\n    size: %d\n    path: model.bin\n", md5Hex(model), len(model))))
		s.write(name+"/models/.gitignore", []byte("# kept\n/model.bin\n"))
		unix := bytes.ReplaceAll(crlf, []byte("\r\n"), []byte("\n"))
		s.dvcCachePut(name, crlf, md5Hex(unix), true)
		s.dvcCachePut(name, deep, "", true)
		listing := []byte(fmt.Sprintf(`[{"md5": "%s", "relpath": "notes.txt"}, {"md5": "%s", "relpath": "sub/deep.csv"}]`, md5Hex(unix), md5Hex(deep)))
		dir := s.dvcCachePut(name, listing, md5Hex(listing)+".dir", true)
		s.write(name+"/images.dvc", []byte(fmt.Sprintf("outs:\n- md5: %s\n  size: %d\n  nfiles: 2\n  path: images\n", dir, len(unix)+len(deep))))
		s.write(name+"/.gitignore", []byte("/images\n"))
		os.RemoveAll(filepath.Join(s.dir, name, "images"))
		s.run(name, "git", "add", "-A")
		s.run(name, "git", "commit", "-q", "-m", fmt.Sprintf("data v%d", v))
	}
	version(1)
	version(2)
	return files
}

// A DVC-layout repository migrated: its outputs are lode files at the
// same paths in a new commit, with their content, the .dvc files are gone
// and dvc.yaml, dvc.lock and metrics stay; a clone gets the files. A
// damaged cache object stops the migration before it commits.
func TestMigrateFromDVC(t *testing.T) {
	s := newSandbox(t)
	files := newDVCRepo(s, "repo")
	s.run("repo", "git", "lode", "install", "--local")
	head := strings.TrimSpace(s.run("repo", "git", "rev-parse", "HEAD"))
	info := s.run("repo", "git", "lode", "migrate", "import", "--from-dvc", "--dry-run")
	if !strings.Contains(info, ".dvc files        3") || !strings.Contains(info, "files             4") || !strings.Contains(info, "not in the cache  0") {
		t.Fatalf("dry run:\n%s", info)
	}

	// A damaged object: nothing is committed.
	model := filepath.Join("repo/.dvc/cache", md5Hex(files["models/model.bin"])[:2], md5Hex(files["models/model.bin"])[2:])
	good := s.read(model)
	s.write(model, append(bytes.Clone(good[:100]), 'x'))
	if out := s.fail("repo", "git", "lode", "migrate", "import", "--from-dvc"); !strings.Contains(out, "models/model.bin") || !strings.Contains(out, "nothing was committed") {
		t.Fatalf("damaged object: %s", out)
	}
	if now := strings.TrimSpace(s.run("repo", "git", "rev-parse", "HEAD")); now != head {
		t.Fatal("a commit was made")
	}
	s.write(model, good)

	s.run("repo", "git", "lode", "migrate", "import", "--from-dvc")
	if parent := strings.TrimSpace(s.run("repo", "git", "rev-parse", "HEAD~1")); parent != head {
		t.Fatalf("the history changed: HEAD~1 is %s, was HEAD %s", parent, head)
	}
	ls := s.run("repo", "git", "lode", "ls-files")
	for p, want := range files {
		if !strings.Contains(ls, p) {
			t.Fatalf("%s is not a lode file:\n%s", p, ls)
		}
		if got := s.read("repo/" + p); !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes in the work tree, want %d", p, len(got), len(want))
		}
	}
	tree := s.run("repo", "git", "ls-files")
	if strings.Contains(tree, ".dvc\n") || !strings.Contains(tree, "dvc.yaml") || !strings.Contains(tree, "dvc.lock") || !strings.Contains(tree, "metrics.json") {
		t.Fatalf("files in git:\n%s", tree)
	}
	if gi := string(s.read("repo/models/.gitignore")); gi != "# kept\n" {
		t.Fatalf("models/.gitignore: %q", gi)
	}
	if attrs := string(s.read("repo/.gitattributes")); !strings.Contains(attrs, "/images/** filter=lode -text") || !strings.Contains(attrs, "/data/table.csv filter=lode -text") {
		t.Fatalf(".gitattributes:\n%s", attrs)
	}
	if st := s.run("repo", "git", "status", "--porcelain"); st != "" {
		t.Fatalf("status after the migration:\n%s", st)
	}
	s.run("", "git", "lode", "install")
	s.run("", "git", "clone", "-q", "repo", "clone")
	for p, want := range files {
		if got := s.read("clone/" + p); !bytes.Equal(got, want) {
			t.Fatalf("clone: %s differs", p)
		}
	}
}
