package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// newLFSRepo makes a repository with the real git-lfs, tracking *.csv and
// *.bin, and a history of several versions of a few files: CSV versions
// that share most of their rows, a binary, a file under a name git
// quotes, a plain file, a deletion, a side branch merged back, an
// annotated and a lightweight tag. lode is installed too (--local), as it
// must be before a migration. It returns the commits, oldest first.
func newLFSRepo(s *sandbox, name string) {
	s.t.Helper()
	s.run("", "git", "init", "-q", name)
	s.run(name, "git", "lfs", "install", "--local")
	s.run(name, "git", "lfs", "track", "*.csv", "*.bin")
	s.write(name+"/README", []byte("a project\n"))
	base := genCSV(30000, 1)
	commit := func(msg string) {
		s.run(name, "git", "add", "-A")
		s.run(name, "git", "commit", "-q", "-m", msg)
	}
	s.write(name+"/data/table.csv", base)
	s.write(name+"/model.bin", genRand(200<<10, 2))
	commit("first data")
	s.write(name+"/data/table.csv", append(bytes.Clone(base), genCSV(2000, 3)...))
	s.write(name+"/data/données.csv", genCSV(500, 4))
	commit("more rows, a file with an accent")
	s.run(name, "git", "tag", "-a", "v1", "-m", "version one")
	s.run(name, "git", "checkout", "-q", "-b", "side")
	s.write(name+"/side.bin", genRand(64<<10, 5))
	commit("side data")
	s.run(name, "git", "checkout", "-q", "main")
	s.write(name+"/model.bin", genRand(200<<10, 6))
	s.run(name, "git", "rm", "-q", "data/données.csv")
	commit("new model, drop a file")
	s.run(name, "git", "merge", "-q", "--no-ff", "-m", "merge side", "side")
	s.write(name+"/data/table.csv", append(genCSV(100, 7), base...))
	commit("rows in front")
	s.run(name, "git", "tag", "light")
	s.run(name, "git", "lode", "install", "--local")
}

// runMigration runs git lode migrate import with args in repo, which must
// succeed, and returns the commit map it printed (old -> new) and its
// text.
func runMigration(s *sandbox, repo string, args ...string) (map[string]string, string) {
	s.t.Helper()
	cmd := s.cmd(repo, append([]string{"git", "lode", "migrate", "import"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("migrate %v: %v\n%s", args, err, stderr.String())
	}
	newOf := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		old, nw, ok := strings.Cut(l, " ")
		if !ok || len(old) != 40 || len(nw) != 40 {
			s.t.Fatalf("map line %q", l)
		}
		newOf[old] = nw
	}
	return newOf, stdout.String()
}

// checkedOut returns, for each commit of revs, the SHA-256 of every file
// a checkout of it writes (by path; .gitattributes and .lode.toml left
// out, as they are meant to change), checking each commit out in a scratch worktree.
func checkedOut(s *sandbox, repo string, commits []string) map[string]map[string]string {
	s.t.Helper()
	wt := repo + "-check"
	s.run(repo, "git", "worktree", "add", "-q", "--detach", "../"+wt, commits[0])
	defer s.run(repo, "git", "worktree", "remove", "--force", "../"+wt)
	out := map[string]map[string]string{}
	for _, c := range commits {
		s.run(wt, "git", "checkout", "-q", "--detach", c)
		if st := s.run(wt, "git", "status", "--porcelain"); st != "" {
			s.t.Fatalf("checkout of %s is not clean:\n%s", c, st)
		}
		files := map[string]string{}
		root := filepath.Join(s.dir, wt)
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				s.t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() && rel == ".git" {
				return filepath.SkipDir
			}
			if d.IsDir() || rel == ".git" || filepath.Base(rel) == ".gitattributes" || rel == ".lode.toml" {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				s.t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			files[rel] = hex.EncodeToString(sum[:])
			return nil
		})
		out[c] = files
	}
	return out
}

func (s *sandbox) lines(dir string, args ...string) []string {
	s.t.Helper()
	return strings.Fields(s.run(dir, args...))
}

// The Git LFS history is rewritten: every commit of every branch and tag
// checks out byte-identical files before and after, the new history holds
// no Git LFS pointer and .gitattributes says filter=lode; authors,
// messages and tags are kept; the old refs are backed up; a clone of the
// rewritten history gets the files without git-lfs; stats shows the
// dedup of the CSV versions.
func TestMigrateFromLFS(t *testing.T) {
	requireTool(t, "git-lfs")
	s := newSandbox(t)
	newLFSRepo(s, "repo")
	oldCommits := s.lines("repo", "git", "rev-list", "--all", "--reverse")
	if len(oldCommits) != 6 {
		t.Fatalf("%d commits", len(oldCommits))
	}
	before := checkedOut(s, "repo", oldCommits)
	oldRefs := s.run("repo", "git", "for-each-ref", "--format=%(refname) %(objectname)")
	s.run("repo", "git", "lode", "migrate", "info", "--everything")
	info := s.run("repo", "git", "lode", "migrate", "import", "--from-lfs", "--dry-run", "--everything")
	for _, want := range []string{"commits            6", "Git LFS files      ", ".gitattributes     1 version"} {
		if !strings.Contains(info, want) {
			t.Fatalf("dry run: no %q in\n%s", want, info)
		}
	}
	if now := s.run("repo", "git", "for-each-ref", "--format=%(refname) %(objectname)"); now != oldRefs {
		t.Fatalf("the dry run moved refs:\n%s", now)
	}

	newOf, mapText := runMigration(s, "repo", "--from-lfs", "--everything")
	// The map: every old commit, once.
	maps, _ := filepath.Glob(filepath.Join(s.dir, "repo/.git/lode/migrate/*.map"))
	if len(maps) != 1 || string(s.read(strings.TrimPrefix(maps[0], s.dir+"/"))) != mapText {
		t.Fatalf("map files %v", maps)
	}
	var newCommits []string
	for _, c := range oldCommits {
		n, ok := newOf[c]
		if !ok || n == c {
			t.Fatalf("commit %s: mapped to %q", c, n)
		}
		newCommits = append(newCommits, n)
	}
	if got := s.lines("repo", "git", "rev-list", "--branches", "--tags", "--reverse"); !slices.Equal(got, newCommits) {
		t.Fatalf("the branches and tags hold %v, the map says %v", got, newCommits)
	}
	after := checkedOut(s, "repo", newCommits)
	for i, c := range oldCommits {
		b, a := before[c], after[newCommits[i]]
		if len(b) == 0 || len(b) != len(a) {
			t.Fatalf("commit %d: %d files before, %d after", i, len(b), len(a))
		}
		for p, sum := range b {
			if a[p] != sum {
				t.Fatalf("commit %d: %s differs after the migration", i, p)
			}
		}
	}
	// Nothing of Git LFS is left in the new history.
	for _, c := range newCommits {
		ls := s.run("repo", "git", "lode", "ls-files", c)
		if strings.Contains(ls, "lfs:") || !strings.Contains(ls, "model.bin") {
			t.Fatalf("ls-files %s:\n%s", c, ls)
		}
		if attrs := s.run("repo", "git", "show", c+":.gitattributes"); strings.Contains(attrs, "lfs") || !strings.Contains(attrs, "*.csv filter=lode -text") {
			t.Fatalf(".gitattributes at %s:\n%s", c, attrs)
		}
	}
	// Messages, authors, the merge and the tags are kept.
	if o, n := s.run("repo", "git", "log", "--format=%an %ae %ad %s %P", oldCommits[5]), s.run("repo", "git", "log", "--format=%an %ae %ad %s %P", newCommits[5]); strings.Count(o, "\n") != strings.Count(n, "\n") || !strings.Contains(n, "merge side") {
		t.Fatalf("log before:\n%s\nafter:\n%s", o, n)
	}
	if tag := s.run("repo", "git", "cat-file", "-p", "v1"); !strings.Contains(tag, "object "+newOf[strings.TrimSpace(s.run("repo", "git", "rev-parse", "refs/lode-migrate/original/tags/v1^{commit}"))]) || !strings.Contains(tag, "version one") {
		t.Fatalf("tag v1:\n%s", tag)
	}
	if got := strings.TrimSpace(s.run("repo", "git", "rev-parse", "refs/lode-migrate/original/heads/main")); got != oldCommits[5] {
		t.Fatalf("backup of main: %s", got)
	}
	if st := s.run("repo", "git", "status", "--porcelain"); st != "" {
		t.Fatalf("work tree after the migration:\n%s", st)
	}
	// The CSV versions share their chunks.
	var st struct {
		Dedup float64 `json:"dedup_ratio"`
	}
	if err := json.Unmarshal([]byte(s.run("repo", "git", "lode", "stats", "--json")), &st); err != nil || st.Dedup <= 1.2 {
		t.Fatalf("dedup ratio %.2f (%v)", st.Dedup, err)
	}
	// A clone without git-lfs gets the files through lode.
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.run("repo", "git", "remote", "add", "origin", "../server.git")
	s.run("repo", "git", "push", "-q", "origin", "--all")
	s.run("repo", "git", "push", "-q", "origin", "--tags")
	s.run("", "git", "lfs", "uninstall", "--skip-repo")
	s.run("", "git", "lode", "install")
	s.run("", "git", "clone", "-q", "server.git", "clone")
	if !bytes.Equal(s.read("clone/data/table.csv"), s.read("repo/data/table.csv")) || !bytes.Equal(s.read("clone/model.bin"), s.read("repo/model.bin")) {
		t.Fatal("the clone's files differ")
	}
}

// A migration that fails halfway (a Git LFS object of a middle commit is
// damaged, then missing, and git-lfs has no remote to get it from) leaves
// every ref, the work tree and the index as they were, and no temporary
// ref; with the object back, it runs. A dirty work tree is refused.
// --include converts only the files it names, and a range rewrites only
// the commits in it.
func TestMigrateFromLFSInterrupted(t *testing.T) {
	requireTool(t, "git-lfs")
	s := newSandbox(t)
	newLFSRepo(s, "repo")
	refs := func() string {
		return s.run("repo", "git", "for-each-ref", "--format=%(refname) %(objectname)")
	}
	oldRefs := refs()
	// The first model.bin: only old commits have it. (Not the one in the
	// work tree: a git status that finds model.bin racily clean runs Git
	// LFS's clean on it, which writes its object again, repaired.)
	ptr := s.run("repo", "git", "cat-file", "blob", "v1:model.bin")
	oid := strings.TrimPrefix(strings.Fields(ptr)[3], "sha256:")
	obj := filepath.Join("repo/.git/lfs/objects", oid[0:2], oid[2:4], oid)
	good := s.read(obj)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 1
	os.Chmod(filepath.Join(s.dir, obj), 0o644)
	s.write(obj, bad)

	s.write("repo/README", []byte("changed\n"))
	if out := s.fail("repo", "git", "lode", "migrate", "import", "--from-lfs", "--everything"); !strings.Contains(out, "work tree has changes") {
		t.Fatalf("dirty tree: %s", out)
	}
	s.run("repo", "git", "checkout", "-q", "README")

	for _, damage := range []string{"damaged", "missing"} {
		if damage == "missing" {
			os.Remove(filepath.Join(s.dir, obj))
		}
		out := s.fail("repo", "git", "lode", "migrate", "import", "--from-lfs", "--everything")
		if !strings.Contains(out, "model.bin") || !strings.Contains(out, oid) || !strings.Contains(out, "no ref was changed") {
			t.Fatalf("%s object: %s", damage, out)
		}
		if now := refs(); now != oldRefs {
			t.Fatalf("%s object: the refs changed:\n%s\nwere:\n%s", damage, now, oldRefs)
		}
		if st := s.run("repo", "git", "status", "--porcelain"); st != "" {
			t.Fatalf("%s object: work tree:\n%s", damage, st)
		}
		if attrs := string(s.read("repo/.gitattributes")); !strings.Contains(attrs, "filter=lfs") {
			t.Fatalf("%s object: .gitattributes: %s", damage, attrs)
		}
	}
	s.write(obj, good)

	// Only the CSV files, only the last two commits.
	s.run("repo", "git", "lode", "migrate", "import", "--from-lfs", "--include", "*.csv", "main~2..main")
	if got := s.run("repo", "git", "rev-parse", "main~2"); got != s.run("repo", "git", "rev-parse", "refs/lode-migrate/original/heads/main~2") {
		t.Fatalf("a commit outside the range was rewritten")
	}
	ls := s.run("repo", "git", "lode", "ls-files", "main")
	if !strings.Contains(ls, "model.bin") || !regexpMatch(`model.bin +[0-9.]+ KiB +lfs:`, ls) || regexpMatch(`table.csv .*lfs:`, ls) {
		t.Fatalf("ls-files after --include *.csv:\n%s", ls)
	}
	// The files left as Git LFS pointers check out through lode, which
	// reads Git LFS's store (.gitattributes says filter=lode now), and
	// clean to the same pointers: touched, so that git must clean them
	// again, they are not modified.
	later := time.Now().Add(5 * time.Second)
	for _, f := range []string{"model.bin", "side.bin"} {
		if err := os.Chtimes(filepath.Join(s.dir, "repo", f), later, later); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.run("repo", "git", "status", "--porcelain"); st != "" {
		t.Fatalf("work tree:\n%s", st)
	}
	if got := s.run("repo", "git", "cat-file", "blob", ":side.bin"); !strings.HasPrefix(got, "version https://git-lfs") {
		t.Fatalf("side.bin in the index after a status: %s", got)
	}
	if attrs := string(s.read("repo/.gitattributes")); !strings.Contains(attrs, "*.bin filter=lode -text") {
		t.Fatalf(".gitattributes after a range migration:\n%s", attrs)
	}
	s.run("repo", "git", "lfs", "uninstall", "--local")
	if out := s.run("repo", "git", "config", "--list"); strings.Contains(out, "filter.lfs") {
		t.Fatalf("git-lfs's filter is still configured:\n%s", out)
	}
	os.Remove(filepath.Join(s.dir, "repo/model.bin"))
	s.run("repo", "git", "checkout", "model.bin")
	if !bytes.Equal(s.read("repo/model.bin"), genRand(200<<10, 6)) {
		t.Fatal("model.bin, a Git LFS pointer under filter=lode, did not check out")
	}
	// Its object gone, and git-lfs with no remote to get it from: the
	// file keeps its Git LFS pointer, named, with what to do.
	ptr = s.run("repo", "git", "cat-file", "blob", "main:model.bin")
	oid = strings.TrimPrefix(strings.Fields(ptr)[3], "sha256:")
	obj = filepath.Join("repo/.git/lfs/objects", oid[0:2], oid[2:4], oid)
	os.Remove(filepath.Join(s.dir, obj))
	os.Remove(filepath.Join(s.dir, "repo/model.bin"))
	out, err := s.try("repo", nil, "git", "checkout", "model.bin")
	if err != nil || !strings.Contains(out, "model.bin: left as its Git LFS pointer") || !strings.Contains(out, "git lfs fetch") {
		t.Fatalf("checkout without the object: %v\n%s", err, out)
	}
	if got := string(s.read("repo/model.bin")); got != ptr {
		t.Fatalf("model.bin holds %q, not its pointer", got)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// migrate import --above: plain git files of at least the size become lode
// files in every commit, which all get the size rule; smaller files keep
// their blobs; every commit checks out the same files.
func TestMigrateAbove(t *testing.T) {
	s := newSandbox(t)
	s.run("", "git", "init", "-q", "repo")
	s.run("repo", "git", "lode", "install", "--local")
	commit := func(msg string) {
		s.run("repo", "git", "add", "-A")
		s.run("repo", "git", "commit", "-q", "-m", msg)
	}
	s.write("repo/big.bin", genRand(300<<10, 1))
	s.write("repo/data/table.csv", genCSV(8000, 1))
	s.write("repo/small.txt", []byte("small\n"))
	commit("one")
	s.write("repo/.gitattributes", []byte("*.txt text\n"))
	s.write("repo/big.bin", genRand(300<<10, 2))
	commit("two")
	s.write("repo/data/table.csv", append(genCSV(8000, 1), genCSV(100, 2)...))
	s.write("repo/.lode.toml", []byte("[remote]\nurl = \"../elsewhere\"\n"))
	commit("three")
	old := s.lines("repo", "git", "rev-list", "--reverse", "main")
	before := checkedOut(s, "repo", old)
	smallBlob := s.run("repo", "git", "rev-parse", "main:small.txt")
	if info := s.run("repo", "git", "lode", "migrate", "import", "--above", "100KiB", "--dry-run"); !strings.Contains(info, "files at or above  4 (file versions), 4 distinct") {
		t.Fatalf("dry run:\n%s", info)
	}
	out := s.run("repo", "git", "lode", "migrate", "import", "--above", "100KiB")
	var nw []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 && len(f[1]) == 40 {
			nw = append(nw, f[1])
		}
	}
	if len(nw) != 3 {
		t.Fatalf("map:\n%s", out)
	}
	after := checkedOut(s, "repo", nw)
	for i, c := range old {
		for p, sum := range before[c] {
			if after[nw[i]][p] != sum {
				t.Fatalf("commit %d: %s differs", i, p)
			}
		}
		ls := s.run("repo", "git", "lode", "ls-files", nw[i])
		if !strings.Contains(ls, "big.bin") || !strings.Contains(ls, "data/table.csv") || strings.Contains(ls, "small.txt") {
			t.Fatalf("ls-files %d:\n%s", i, ls)
		}
		attrs := s.run("repo", "git", "show", nw[i]+":.gitattributes")
		if !strings.Contains(strings.SplitN(attrs, "\n", 3)[1], "* filter=lode-above") || (i > 0) != strings.Contains(attrs, "*.txt text") {
			t.Fatalf(".gitattributes %d:\n%s", i, attrs)
		}
		toml := s.run("repo", "git", "show", nw[i]+":.lode.toml")
		if !strings.Contains(toml, `above = "100KiB"`) || (i == 2) != strings.Contains(toml, "../elsewhere") {
			t.Fatalf(".lode.toml %d:\n%s", i, toml)
		}
	}
	if got := s.run("repo", "git", "rev-parse", "main:small.txt"); got != smallBlob {
		t.Fatal("small.txt's blob changed")
	}
	if st := s.run("repo", "git", "status", "--porcelain"); st != "" {
		t.Fatalf("status:\n%s", st)
	}
}
