package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas/pointer"
)

// teammates is one machine with two users, alice and bob: each has a HOME
// of their own (git's global config, lode's user config), as two people
// sharing a disk, or one person's two accounts.
type teammates struct {
	*sandbox
	alice, bob *sandbox
}

func newTeammates(t *testing.T) *teammates {
	t.Helper()
	s := newSandbox(t)
	user := func(name string) *sandbox {
		home := filepath.Join(s.dir, "."+name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeGlobalGitConfig(home); err != nil {
			t.Fatal(err)
		}
		return &sandbox{t: t, dir: s.dir, env: isolatedEnv(home)}
	}
	return &teammates{sandbox: s, alice: user("alice"), bob: user("bob")}
}

// fail runs a command that must fail with exit status 1, and returns its
// output.
func (s *sandbox) fail(dir string, args ...string) string {
	s.t.Helper()
	out, err := s.try(dir, nil, args...)
	if err == nil {
		s.t.Fatalf("%s succeeded, want a failure:\n%s", strings.Join(args, " "), out)
	}
	if code := s.exitCode(err); code != 1 {
		s.t.Fatalf("%s: exit status %d, want 1:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// isPointer reports whether the file at path holds a lode pointer.
func (s *sandbox) isPointer(path string) bool {
	_, err := pointer.Parse(s.read(path))
	return err == nil
}

// aliceProject makes alice's repository alice/project (lode installed her
// way: 'git lode install' once), with model.bin committed, and returns
// the file's content.
func (tm *teammates) aliceProject() []byte {
	a := tm.alice
	a.run("", "git", "lode", "install")
	a.run("", "git", "init", "-q", "alice/project")
	a.run("alice/project", "git", "lode", "track", "*.bin")
	data := genRand(700<<10, 1)
	a.write("alice/project/model.bin", data)
	a.run("alice/project", "git", "add", ".")
	a.run("alice/project", "git", "commit", "-q", "-m", "model")
	return data
}

// Alice pushes to a bare repository; bob runs 'git lode install' once,
// anywhere, and a plain 'git clone' gets content, not pointers, and the
// hook that makes his pushes carry their data.
func TestTeammateClonesAfterInstallOnce(t *testing.T) {
	tm := newTeammates(t)
	a, b := tm.alice, tm.bob
	a.run("", "git", "init", "-q", "--bare", "server.git")
	a.run("", "git", "clone", "-q", "server.git", "alice/work")
	out := a.run("alice/work", "git", "lode", "install")
	if !strings.Contains(out, "(global)") || !strings.Contains(out, "pre-push (installed)") {
		t.Fatalf("install in a clone:\n%s", out)
	}
	a.run("alice/work", "git", "lode", "track", "*.bin")
	data := genRand(900<<10, 7)
	a.write("alice/work/model.bin", data)
	a.run("alice/work", "git", "add", ".")
	a.run("alice/work", "git", "commit", "-q", "-m", "model")
	a.run("alice/work", "git", "push", "-q", "origin", "main")

	// Bob, once, outside any repository.
	out = b.run("", "git", "lode", "install")
	if !strings.Contains(out, "filter.lode.process = git-lode filter-process (global)") || !strings.Contains(out, "clone now check out") {
		t.Fatalf("bob's install:\n%s", out)
	}
	b.run("", "git", "clone", "-q", "server.git", "bob/work")
	if !bytes.Equal(b.read("bob/work/model.bin"), data) {
		t.Fatalf("bob's clone holds %q, want the content", b.read("bob/work/model.bin")[:40])
	}
	if _, err := os.Stat(filepath.Join(tm.dir, "bob/work/.git/hooks/pre-push")); err != nil {
		t.Fatalf("bob's clone has no pre-push hook: %v", err)
	}
	// Bob's push carries its data.
	b.write("bob/work/more.bin", genRand(300<<10, 8))
	b.run("bob/work", "git", "add", ".")
	b.run("bob/work", "git", "commit", "-q", "-m", "more")
	b.run("bob/work", "git", "push", "-q", "origin", "main")
	a.run("alice/work", "git", "pull", "-q", "origin", "main")
	if !bytes.Equal(a.read("alice/work/more.bin"), genRand(300<<10, 8)) {
		t.Fatal("alice's pull of bob's file differs")
	}
	// Alice's config was not touched by bob's install, and the reverse.
	if out := a.run("", "git", "config", "--global", "--get", "filter.lode.process"); strings.TrimSpace(out) != "git-lode filter-process" {
		t.Fatalf("alice's global filter: %q", out)
	}
}

// A clone made before 'git lode install' holds pointers; install and
// status say so and point at 'git lode pull', which fills them in.
func TestCloneBeforeInstallLeavesPointers(t *testing.T) {
	tm := newTeammates(t)
	data := tm.aliceProject()
	b := tm.bob
	b.run("", "git", "clone", "-q", "alice/project", "bob/project")
	if !b.isPointer("bob/project/model.bin") {
		t.Fatal("without the filter, the clone should hold the pointer")
	}
	out := b.run("bob/project", "git", "lode", "install")
	if !strings.Contains(out, "1 lode file(s) here hold their pointers") || !strings.Contains(out, "git lode pull") || strings.Contains(out, "git lode track") {
		t.Fatalf("install in a clone with pointers:\n%s", out)
	}
	out = b.run("bob/project", "git", "lode", "status")
	if !strings.Contains(out, "Pointers in the work tree instead of content") || !strings.Contains(out, "model.bin") || !strings.Contains(out, "git lode pull") {
		t.Fatalf("status with pointers:\n%s", out)
	}
	b.run("bob/project", "git", "lode", "pull")
	if !bytes.Equal(b.read("bob/project/model.bin"), data) {
		t.Fatal("pull did not fill in the pointer")
	}
	if out := b.run("bob/project", "git", "lode", "status"); strings.Contains(out, "Pointers in the work tree") {
		t.Fatalf("status after pull:\n%s", out)
	}
	if out := b.run("bob/project", "git", "status", "--porcelain"); out != "" {
		t.Fatalf("git status after pull:\n%s", out)
	}
}

// Bob clones alice's repository itself (it has a work tree, no bare
// repository in between), by path and by file:// URL: the data comes from
// alice's store. A push back uploads nothing: it works while alice's store
// has what the commits need, and fails before git sends anything when not.
func TestCloneTeammatesWorkTree(t *testing.T) {
	tm := newTeammates(t)
	data := tm.aliceProject()
	b := tm.bob
	b.run("", "git", "lode", "install")
	if err := os.MkdirAll(filepath.Join(tm.dir, "bob"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.run("bob", "git", "clone", "-q", "../alice/project", "p1") // relative, as typed
	if !bytes.Equal(b.read("bob/p1/model.bin"), data) {
		t.Fatal("clone by path: not the content")
	}
	b.run("", "git", "clone", "-q", "file://"+filepath.Join(tm.dir, "alice/project"), "bob/p2")
	if !bytes.Equal(b.read("bob/p2/model.bin"), data) {
		t.Fatal("clone by file:// URL: not the content")
	}
	if entries, _ := os.ReadDir(filepath.Join(tm.dir, "alice/project/.git/lode-remote")); len(entries) != 0 {
		t.Fatal("a clone made alice/project/.git/lode-remote")
	}
	out := b.run("bob/p1", "git", "lode", "env")
	if !strings.Contains(out, "Remote: "+filepath.Join(tm.dir, "alice/project/.git/lode")+" (from the store of git remote origin, a repository with a work tree, read only)") {
		t.Fatalf("env in bob's clone:\n%s", out)
	}

	// A branch whose files alice's store holds: pushed.
	b.run("bob/p1", "git", "checkout", "-q", "-b", "notes")
	b.write("bob/p1/notes.txt", []byte("notes\n"))
	b.run("bob/p1", "git", "add", ".")
	b.run("bob/p1", "git", "commit", "-q", "-m", "notes")
	b.run("bob/p1", "git", "push", "-q", "origin", "notes")
	// New data: refused, and alice's store is left alone.
	packs, _ := os.ReadDir(filepath.Join(tm.dir, "alice/project/.git/lode/packs"))
	b.run("bob/p1", "git", "checkout", "-q", "-b", "data")
	b.write("bob/p1/new.bin", genRand(200<<10, 9))
	b.run("bob/p1", "git", "add", ".")
	b.run("bob/p1", "git", "commit", "-q", "-m", "new data")
	out = b.fail("bob/p1", "git", "push", "-q", "origin", "data")
	for _, want := range []string{"a repository with a work tree", "does not write into", "bare repository", "push was stopped"} {
		if !strings.Contains(out, want) {
			t.Fatalf("push of new data to a work tree: %q missing:\n%s", want, out)
		}
	}
	if _, err := tm.alice.try("alice/project", nil, "git", "rev-parse", "--verify", "-q", "refs/heads/data"); err == nil {
		t.Fatal("the branch reached alice's repository without its data")
	}
	if now, _ := os.ReadDir(filepath.Join(tm.dir, "alice/project/.git/lode/packs")); len(now) != len(packs) {
		t.Fatalf("alice's store went from %d to %d files", len(packs), len(now))
	}

	// A store that alice's .lode.toml puts elsewhere is where bob reads.
	a := tm.alice
	a.run("", "git", "init", "-q", "alice/other")
	a.write("alice/other/.lode.toml", []byte("[store]\ndir = \"../shared-store\"\n"))
	a.run("alice/other", "git", "lode", "track", "*.bin")
	weights := genRand(400<<10, 10)
	a.write("alice/other/weights.bin", weights)
	a.run("alice/other", "git", "add", ".")
	a.run("alice/other", "git", "commit", "-q", "-m", "weights")
	if _, err := os.Stat(filepath.Join(tm.dir, "alice/shared-store/packs")); err != nil {
		t.Fatalf("alice's store.dir: %v", err)
	}
	b.run("", "git", "clone", "-q", "alice/other", "bob/other")
	if !bytes.Equal(b.read("bob/other/weights.bin"), weights) {
		t.Fatal("clone of a repository whose store is elsewhere: not the content")
	}
}
