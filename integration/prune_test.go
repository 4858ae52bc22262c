package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// commitAt commits what is staged in dir, dated daysAgo days ago, and
// returns the commit.
func (s *sandbox) commitAt(dir, msg string, daysAgo int) string {
	s.t.Helper()
	when := time.Now().Add(-time.Duration(daysAgo) * 24 * time.Hour).Format(time.RFC3339)
	cmd := s.cmd(dir, "git", "commit", "-q", "-m", msg)
	cmd.Env = append(cmd.Env, "GIT_AUTHOR_DATE="+when, "GIT_COMMITTER_DATE="+when)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("commit %s: %v\n%s", msg, err, out)
	}
	return strings.TrimSpace(s.run(dir, "git", "rev-parse", "HEAD"))
}

type statsJSON struct {
	Files           int   `json:"files"`
	StoredBytes     int64 `json:"stored_bytes"`
	PrunableBytes   int64 `json:"prunable_bytes"`
	PrunableObjects int   `json:"prunable_objects"`
}

func (s *sandbox) stats(dir string) statsJSON {
	s.t.Helper()
	var st statsJSON
	out := s.run(dir, "git", "lode", "stats", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		s.t.Fatalf("stats --json: %v\n%s", err, out)
	}
	return st
}

// smudgeOK reports whether the lode file at rev:path can be read (a
// smudge whose data cannot be had answers with the pointer).
func (s *sandbox) smudgeOK(dir, rev, path string) bool {
	s.t.Helper()
	ptr := s.run(dir, "git", "cat-file", "blob", rev+":"+path)
	return s.smudgeGives(dir, ptr, path)
}

// smudgeGives reports whether 'git lode smudge' gives content for the
// pointer ptr, rather than failing or answering with the pointer.
func (s *sandbox) smudgeGives(dir, ptr, path string) bool {
	s.t.Helper()
	cmd := s.cmd(dir, "git", "lode", "smudge", path)
	cmd.Stdin = strings.NewReader(ptr)
	out, err := cmd.Output()
	return err == nil && string(out) != ptr
}

// The local prune keeps tips, recent history, stashes, the index and
// unpushed history, and deletes the rest: old pushed versions, and the
// versions that a 'git status' over a discarded change stored.
func TestLocalPrune(t *testing.T) {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.csv")
	s.run("a", "git", "add", ".gitattributes")
	s.commitAt("a", "attributes", 41)
	// Small upload packs: the remote gets more than 16, and its indexes
	// are merged (the path where what the remote holds was once misread).
	s.env = append(s.env, "LODE_PACK_SIZE=32768")
	v := func(i int) []byte { return genCSV(20000, uint64(100+i)) }
	var c [4]string
	for i, days := range []int{0, 40, 30, 1} {
		if i == 0 {
			continue
		}
		s.write("a/data.csv", v(i))
		s.run("a", "git", "add", "data.csv")
		c[i] = s.commitAt("a", fmt.Sprintf("v%d", i), days)
	}
	s.run("a", "git", "push", "-q", "origin", "main")
	// Unpushed history older than the retention.
	s.run("a", "git", "checkout", "-q", "-b", "local-only", c[1])
	s.write("a/data.csv", v(11))
	s.run("a", "git", "add", "data.csv")
	w1 := s.commitAt("a", "w1", 35)
	s.write("a/data.csv", v(12))
	s.run("a", "git", "add", "data.csv")
	s.commitAt("a", "w2", 34)
	s.run("a", "git", "checkout", "-q", "main")
	// Another worktree, with a file staged and not committed.
	s.run("a", "git", "worktree", "add", "-q", "../wt", "-b", "wt", c[3])
	s.write("wt/staged.csv", v(30))
	s.run("wt", "git", "add", "staged.csv")
	// A change looked at and thrown away, then one stashed.
	churn := v(20)
	s.write("a/data.csv", churn)
	s.run("a", "git", "status", "--porcelain")
	s.run("a", "git", "checkout", "--", "data.csv")
	s.write("a/data.csv", v(21))
	s.run("a", "git", "stash", "-q")

	before := s.stats("a")
	if before.Files != 5 || before.PrunableObjects == 0 {
		t.Fatalf("stats before prune: %+v; want 5 versions local and something prunable", before)
	}
	out := s.run("a", "git", "lode", "prune", "--dry-run")
	if !strings.Contains(out, "would delete") || s.stats("a").StoredBytes != before.StoredBytes {
		t.Fatalf("dry run:\n%s", out)
	}
	out = s.run("a", "git", "lode", "prune")
	if !strings.Contains(out, "kept") || !strings.Contains(out, "push") {
		t.Fatalf("prune does not say it kept unpushed history:\n%s", out)
	}
	after := s.stats("a")
	t.Logf("store %d -> %d bytes (stats said %d prunable)\n%s", before.StoredBytes, after.StoredBytes, before.PrunableBytes, out)
	if after.Files != 3 || after.PrunableObjects != 0 {
		t.Fatalf("stats after prune: %+v; want v3, w1, w2 local and nothing prunable", after)
	}
	if freed := before.StoredBytes - after.StoredBytes; freed < before.PrunableBytes*9/10 {
		t.Fatalf("freed %d bytes; stats promised %d", freed, before.PrunableBytes)
	}

	// Without the remote: what was kept reads, what went does not.
	lodeRemote := filepath.Join(s.dir, "server.git/lode")
	if err := os.Rename(lodeRemote, lodeRemote+".away"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		rev  string
		kept bool
	}{{c[3], true}, {w1, true}, {"local-only", true}, {c[1], false}, {c[2], false}} {
		if got := s.smudgeOK("a", k.rev, "data.csv"); got != k.kept {
			t.Errorf("%s:data.csv readable offline = %v, want %v", k.rev, got, k.kept)
		}
	}
	// The discarded change's pointer, made in another repository.
	s.newRepo("scratch")
	ptr, err := s.try("scratch", bytes.NewReader(churn), "git", "lode", "clean", "data.csv")
	if err != nil {
		t.Fatalf("clean: %v\n%s", err, ptr)
	}
	if s.smudgeGives("a", ptr, "data.csv") {
		t.Error("the discarded change is still in the store")
	}
	s.run("wt", "rm", "staged.csv")
	s.run("wt", "git", "checkout", "--", "staged.csv")
	if !bytes.Equal(s.read("wt/staged.csv"), v(30)) {
		t.Fatal("a file staged in another worktree differs after prune")
	}
	s.run("a", "git", "stash", "pop", "-q")
	if !bytes.Equal(s.read("a/data.csv"), v(21)) {
		t.Fatal("stash pop after prune gave other content")
	}
	s.run("a", "git", "checkout", "--", "data.csv")
	if err := os.Rename(lodeRemote+".away", lodeRemote); err != nil {
		t.Fatal(err)
	}
	// Pruned history comes back from the remote.
	s.run("a", "git", "checkout", "-q", c[1], "--", "data.csv")
	if !bytes.Equal(s.read("a/data.csv"), v(1)) {
		t.Fatal("old version differs after it was fetched again")
	}
	if out := s.run("a", "git", "lode", "verify"); !strings.Contains(out, "verify OK") {
		t.Fatalf("verify after prune:\n%s", out)
	}
}

// A prune while a git add runs in the same repository deletes nothing the
// add is writing.
func TestPruneDuringGitAdd(t *testing.T) {
	s := newSandbox(t)
	s.newRepo("repo")
	var files [][]byte
	for i := range 6 {
		files = append(files, genRand(4<<20, uint64(200+i)))
		s.write(fmt.Sprintf("repo/f%d.bin", i), files[i])
	}
	var wg sync.WaitGroup
	var addOut string
	var addErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		addOut, addErr = s.try("repo", nil, "git", "add", ".")
	}()
	var prunes []string
	for range 5 {
		out, err := s.try("repo", nil, "git", "lode", "prune", "--recent", "0")
		if err != nil {
			t.Fatalf("prune: %v\n%s", err, out)
		}
		prunes = append(prunes, out)
	}
	wg.Wait()
	if addErr != nil {
		t.Fatalf("git add: %v\n%s", addErr, addOut)
	}
	s.run("repo", "git", "commit", "-q", "-m", "files")
	s.run("repo", "git", "lode", "prune", "--recent", "0")
	s.run("repo", "sh", "-c", "rm -f *.bin && git checkout -- .")
	for i, want := range files {
		if !bytes.Equal(s.read(fmt.Sprintf("repo/f%d.bin", i)), want) {
			t.Fatalf("f%d.bin differs after prunes during its add:\n%s", i, strings.Join(prunes, ""))
		}
	}
	if out := s.run("repo", "git", "lode", "verify"); !strings.Contains(out, "verify OK") {
		t.Fatalf("verify:\n%s", out)
	}
}

// A prune killed at any point leaves a store that verifies and still
// holds everything kept; the next prune finishes the job.
func TestKilledPruneLeavesValidStore(t *testing.T) {
	s := newSandbox(t)
	s.newRepo("repo")
	keep := genCSV(30000, 7)
	s.write("repo/keep.csv", keep)
	s.run("repo", "git", "add", "keep.csv")
	s.run("repo", "git", "commit", "-q", "-m", "keep")
	for i, delay := range []time.Duration{0, 10 * time.Millisecond, 40 * time.Millisecond, 150 * time.Millisecond} {
		// Garbage: discarded changes, and a pack shared by a kept file
		// and a discarded one (so that prune rewrites it).
		s.write("repo/keep.csv", genCSV(30000, uint64(300+i)))
		s.run("repo", "git", "status", "--porcelain")
		s.run("repo", "git", "checkout", "--", "keep.csv")
		s.write("repo/small.csv", genCSV(200, uint64(400+i)))
		s.write("repo/junk.bin", genRand(3<<20, uint64(500+i)))
		s.run("repo", "git", "add", "small.csv", "junk.bin")
		s.run("repo", "git", "rm", "-q", "--cached", "junk.bin")
		s.run("repo", "git", "commit", "-q", "-m", fmt.Sprintf("small %d", i))
		s.run("repo", "rm", "junk.bin")

		cmd := s.cmd("repo", "git", "lode", "prune", "--recent", "0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		cmd.Wait()
		if out, err := s.try("repo", nil, "git", "lode", "verify"); err != nil || !strings.Contains(out, "verify OK") {
			t.Fatalf("verify after a prune killed at %v: %v\n%s", delay, err, out)
		}
		s.run("repo", "git", "lode", "prune", "--recent", "0")
	}
	s.run("repo", "sh", "-c", "rm -f *.csv && git checkout -- .")
	if !bytes.Equal(s.read("repo/keep.csv"), keep) {
		t.Fatal("keep.csv differs")
	}
	if st := s.stats("repo"); st.PrunableObjects != 0 {
		t.Fatalf("after the last prune: %+v", st)
	}
}

// prune --remote: what no ref of the git remote needs is condemned, then
// deleted after the grace; every ref still clones and verifies.
func TestRemotePrune(t *testing.T) {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.csv")
	s.write("a/data.csv", genCSV(30000, 1))
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "v1")
	s.run("a", "git", "push", "-q", "origin", "main")
	s.run("a", "git", "checkout", "-q", "-b", "exp")
	s.write("a/exp.csv", genCSV(30000, 2))
	s.run("a", "git", "add", "exp.csv")
	s.run("a", "git", "commit", "-q", "-m", "experiment")
	s.run("a", "git", "push", "-q", "origin", "exp")
	s.run("a", "git", "tag", "kept", "main")
	s.run("a", "git", "push", "-q", "origin", "kept")
	s.run("a", "git", "checkout", "-q", "main")
	s.write("a/data.csv", genCSV(30000, 3))
	s.run("a", "git", "commit", "-q", "-am", "v2")
	s.run("a", "git", "push", "-q", "origin", "main")
	// The experiment is abandoned.
	s.run("a", "git", "push", "-q", "origin", "--delete", "exp")
	lodeRemote := filepath.Join(s.dir, "server.git/lode")
	size0 := remoteBytes(t, lodeRemote)

	out := s.run("a", "git", "lode", "prune", "--remote", "--dry-run")
	if !strings.Contains(out, "would delete") || remoteBytes(t, lodeRemote) != size0 {
		t.Fatalf("dry run:\n%s", out)
	}
	out = s.run("a", "git", "lode", "prune", "--remote")
	if !strings.Contains(out, "1 newly condemned") || !strings.Contains(out, "deleted 0 pack") {
		t.Fatalf("first prune --remote:\n%s", out)
	}
	if refs := s.run("a", "git", "for-each-ref", "refs/lode-prune"); refs != "" {
		t.Fatalf("prune left its refs:\n%s", refs)
	}
	// Within the grace, even an old-enough record waits: nothing deleted.
	out = s.run("a", "git", "lode", "prune", "--remote")
	if !strings.Contains(out, "deleted 0 pack") {
		t.Fatalf("second prune within the grace:\n%s", out)
	}
	out = s.run("a", "git", "lode", "prune", "--remote", "--grace", "0")
	if !strings.Contains(out, "deleted 1 pack") {
		t.Fatalf("prune --grace 0:\n%s", out)
	}
	size1 := remoteBytes(t, lodeRemote)
	t.Logf("remote %d -> %d bytes\n%s", size0, size1, out)
	if size1 >= size0 {
		t.Fatal("remote did not shrink")
	}
	// Every ref clones and verifies; the deleted branch's data is gone.
	for _, ref := range []string{"main", "kept"} {
		dir := "clone-" + ref
		s.run("", "git", "clone", "-q", "-b", ref, "server.git", dir)
		if out := s.run(dir, "git", "lode", "verify", "--remote"); !strings.Contains(out, "OK") {
			t.Fatalf("verify --remote of %s:\n%s", ref, out)
		}
	}
	if !bytes.Equal(s.read("clone-kept/data.csv"), genCSV(30000, 1)) {
		t.Fatal("tag's data differs")
	}
	// A clone still holding the experiment pushes it again whole.
	s.run("a", "git", "push", "-q", "origin", "exp")
	s.run("", "git", "clone", "-q", "-b", "exp", "server.git", "clone-exp")
	if !bytes.Equal(s.read("clone-exp/exp.csv"), genCSV(30000, 2)) {
		t.Fatal("re-pushed experiment differs")
	}
}

// A killed prune --remote leaves a remote that verifies and clones.
func TestKilledRemotePrune(t *testing.T) {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.csv", "*.bin")
	s.env = append(s.env, "LODE_PACK_SIZE=1048576")
	s.write("a/keep.csv", genCSV(30000, 1))
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "keep")
	s.run("a", "git", "push", "-q", "origin", "main")
	for i, delay := range []time.Duration{20 * time.Millisecond, 80 * time.Millisecond, 250 * time.Millisecond} {
		br := fmt.Sprintf("tmp%d", i)
		s.run("a", "git", "checkout", "-q", "-b", br)
		s.write("a/junk.bin", genRand(6<<20, uint64(600+i)))
		s.run("a", "git", "add", "junk.bin")
		s.run("a", "git", "commit", "-q", "-m", br)
		s.run("a", "git", "push", "-q", "origin", br)
		s.run("a", "git", "checkout", "-q", "main")
		s.run("a", "git", "push", "-q", "origin", "--delete", br)
		cmd := s.cmd("a", "git", "lode", "prune", "--remote", "--grace", "0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		cmd.Wait()
		// The lock a killed prune leaves would stop the next one for an
		// hour; the message says how to clear it.
		os.Remove(filepath.Join(s.dir, "server.git/lode/prune/lock"))
		dir := fmt.Sprintf("clone%d", i)
		s.run("", "git", "clone", "-q", "server.git", dir)
		if out, err := s.try(dir, nil, "git", "lode", "verify", "--remote"); err != nil || !strings.Contains(out, "OK") {
			t.Fatalf("verify --remote after a prune killed at %v: %v\n%s", delay, err, out)
		}
		s.run("a", "git", "lode", "prune", "--remote", "--grace", "0")
	}
	if !bytes.Equal(s.read("clone2/keep.csv"), genCSV(30000, 1)) {
		t.Fatal("keep.csv differs")
	}
}
