package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas/pointer"
)

// The teammate path: two users, each with their own HOME (and so their own
// global git configuration), share a bare repository and its embedded lode
// remote. What one of them pushed without its data must not break the
// other's clone, and both must be told what to do.

// newTeam returns alice and bob, two users of one sandbox directory with
// lode installed globally, and a bare repository server.git.
func newTeam(t *testing.T) (alice, bob *sandbox) {
	alice = newSandbox(t)
	bobHome := filepath.Join(alice.dir, ".home-bob")
	if err := os.MkdirAll(bobHome, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeGlobalGitConfig(bobHome); err != nil {
		t.Fatal(err)
	}
	bob = &sandbox{t: t, dir: alice.dir, env: isolatedEnv(bobHome)}
	alice.run("", "git", "lode", "install", "--global")
	bob.run("", "git", "lode", "install", "--global")
	alice.run("", "git", "init", "-q", "--bare", "server.git")
	return alice, bob
}

func (s *sandbox) exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// clean fails the test if git status in dir shows anything.
func (s *sandbox) clean(dir string) {
	s.t.Helper()
	if out := s.run(dir, "git", "status", "--porcelain"); out != "" {
		s.t.Fatalf("git status in %s:\n%s", dir, out)
	}
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

// Alice pushes one file with 'git push --no-verify', so its data never
// reaches the lode remote. Bob's clone checks out everything else, names
// the missing file and exits 1; his pull names it too and exits 1; once
// Alice runs what she is told, Bob's pull gets the file and 'git status'
// is clean. Then the same for a file that only an older commit has, which
// 'git lode push' finds and tells Alice about.
func TestTeammateMissingData(t *testing.T) {
	alice, bob := newTeam(t)
	alice.run("", "git", "clone", "-q", "server.git", "a")
	alice.run("a", "git", "lode", "track", "*.bin")
	files := map[string][]byte{}
	for i := range 3 {
		name := fmt.Sprintf("data/f%d.bin", i)
		files[name] = genRand(200<<10+i, uint64(100+i))
		alice.write("a/"+name, files[name])
	}
	alice.run("a", "git", "add", ".")
	alice.run("a", "git", "commit", "-q", "-m", "data")
	alice.run("a", "git", "push", "-q", "origin", "main")
	lost := genRand(300<<10, 7)
	alice.write("a/data/lost.bin", lost)
	alice.run("a", "git", "add", ".")
	alice.run("a", "git", "commit", "-q", "-m", "lost")
	alice.run("a", "git", "push", "-q", "--no-verify", "origin", "main")
	lostOID := pointerOf(t, alice, "a", "data/lost.bin")

	// Bob's clone: the other files, the lost one named, exit status 1.
	out := bob.fail("", "git", "clone", "-q", "server.git", "b")
	mustContain(t, out, "data/lost.bin (oid "+lostOID, "left as its lode pointer", "git lode push --all", "git lode pull")
	for name, data := range files {
		if !bytes.Equal(bob.read("b/"+name), data) {
			t.Fatalf("%s differs in bob's clone", name)
		}
	}
	if !bob.isPointer("b/data/lost.bin") {
		t.Fatal("data/lost.bin is not its pointer in bob's clone")
	}
	bob.clean("b")

	// Bob's fetch and pull name it, once, and exit 1; nothing changes.
	out = bob.fail("b", "git", "lode", "fetch", "HEAD", "main")
	if n := strings.Count(out, "data/lost.bin (oid "+lostOID[:12]+")"); n != 1 {
		t.Fatalf("fetch names data/lost.bin %d times:\n%s", n, out)
	}
	out = bob.fail("b", "git", "lode", "pull")
	mustContain(t, out, "data/lost.bin (oid "+lostOID[:12]+"): not on the remote", "git lode push --all")
	bob.clean("b")

	// Alice runs what she is told; Bob's pull then writes the file.
	alice.run("a", "git", "lode", "push", "--all")
	out = bob.run("b", "git", "lode", "pull")
	mustContain(t, out, "checked out 1 file(s)")
	if !bytes.Equal(bob.read("b/data/lost.bin"), lost) {
		t.Fatal("data/lost.bin differs after the pull")
	}
	bob.clean("b")
	out = bob.run("b", "git", "lode", "pull")
	mustContain(t, out, "checked out 0 files")

	// An older commit's file: Alice pushes it without its data, then a
	// new version of it normally. Her 'git lode push' has nothing to push
	// for HEAD, and says that older commits lack data and what to run.
	old := genRand(250<<10, 8)
	alice.write("a/data/old.bin", old)
	alice.run("a", "git", "add", ".")
	alice.run("a", "git", "commit", "-q", "-m", "old v1")
	alice.run("a", "git", "push", "-q", "--no-verify", "origin", "main")
	alice.write("a/data/old.bin", genRand(250<<10, 9))
	alice.run("a", "git", "commit", "-q", "-am", "old v2")
	alice.run("a", "git", "push", "-q", "origin", "main")
	out = alice.run("a", "git", "lode", "push")
	mustContain(t, out, "nothing to push", "1 lode file(s) of older commits are not on", "data/old.bin in commit", "git lode push --all")

	bob.run("b", "git", "pull", "-q", "origin", "main")
	out = bob.fail("b", "git", "checkout", "-q", "HEAD~1")
	mustContain(t, out, "data/old.bin (oid", "this checkout left 1 file(s) as their lode pointers")
	bob.clean("b")
	alice.run("a", "git", "lode", "push", "--all")
	out = alice.run("a", "git", "lode", "push")
	if strings.Contains(out, "older commits") {
		t.Fatalf("after push --all, push still reports older commits:\n%s", out)
	}
	out = bob.run("b", "git", "lode", "pull")
	mustContain(t, out, "checked out 1 file(s)")
	if !bytes.Equal(bob.read("b/data/old.bin"), old) {
		t.Fatal("data/old.bin differs after the pull")
	}
	bob.clean("b")
}

// pointerOf returns the oid (hex) of the pointer git holds for path at
// HEAD of repo.
func pointerOf(t *testing.T, s *sandbox, repo, path string) string {
	t.Helper()
	p, err := pointer.Parse([]byte(s.run(repo, "git", "cat-file", "blob", "HEAD:"+path)))
	if err != nil {
		t.Fatal(err)
	}
	return p.OID.String()
}

// A clone made where lode's filter is not configured holds pointers; pull
// refuses there, saying why and what to run, and changes nothing. After
// 'git lode install' it writes exactly the pointer files (keeping their
// modes), leaves a file the user changed alone, counts what it wrote, and
// 'git status' is clean.
func TestPullWithoutFilter(t *testing.T) {
	alice, bob := newTeam(t)
	alice.run("", "git", "clone", "-q", "server.git", "a")
	alice.run("a", "git", "lode", "track", "*.bin")
	files := map[string][]byte{}
	for i := range 4 {
		name := fmt.Sprintf("d%d/f%d.bin", i%2, i)
		files[name] = genRand(100<<10+i*1000, uint64(200+i))
		alice.write("a/"+name, files[name])
	}
	if err := os.Chmod(filepath.Join(alice.dir, "a/d1/f1.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	alice.run("a", "git", "add", ".")
	alice.run("a", "git", "commit", "-q", "-m", "data")
	alice.run("a", "git", "push", "-q", "origin", "main")

	bob.run("", "git", "lode", "uninstall", "--global")
	bob.run("", "git", "clone", "-q", "server.git", "b")
	for name := range files {
		if !bob.isPointer("b/" + name) {
			t.Fatalf("%s is not a pointer in a clone without the filter", name)
		}
	}
	out := bob.fail("b", "git", "lode", "pull")
	mustContain(t, out, "filter is not configured", "git lode install")
	for name := range files {
		if !bob.isPointer("b/" + name) {
			t.Fatalf("pull without the filter changed %s", name)
		}
	}
	bob.clean("b")

	// The user's own change to a pointer file is kept.
	mine := []byte("my own notes, not a pointer\n")
	bob.write("b/d0/f2.bin", mine)
	bob.run("b", "git", "lode", "install")
	out = bob.run("b", "git", "lode", "pull")
	mustContain(t, out, "checked out 3 file(s)")
	for name, data := range files {
		want := data
		if name == "d0/f2.bin" {
			want = mine
		}
		if !bytes.Equal(bob.read("b/"+name), want) {
			t.Fatalf("%s differs after the pull", name)
		}
	}
	if fi, err := os.Stat(filepath.Join(bob.dir, "b/d1/f1.bin")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("d1/f1.bin mode after the pull: %v %v", fi.Mode(), err)
	}
	status := bob.run("b", "git", "status", "--porcelain")
	if strings.TrimSpace(status) != "M d0/f2.bin" {
		t.Fatalf("git status after the pull:\n%s", status)
	}
	if out := bob.run("b", "git", "lode", "pull"); !regexp.MustCompile(`checked out 0 files`).MatchString(out) {
		t.Fatalf("a second pull:\n%s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(bob.dir, "b/d*/.*lode-*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
