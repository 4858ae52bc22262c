package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sandbox is a throwaway HOME with isolated git configuration.
type sandbox struct {
	t   *testing.T
	dir string
	env []string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	requireTool(t, "git")
	dir := t.TempDir()
	home := filepath.Join(dir, ".home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeGlobalGitConfig(home); err != nil {
		t.Fatal(err)
	}
	return &sandbox{t: t, dir: dir, env: isolatedEnv(home)}
}

// run runs a command in dir (relative to the sandbox) and fails the test
// if it fails.
func (s *sandbox) run(dir string, args ...string) string {
	s.t.Helper()
	out, err := s.try(dir, nil, args...)
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *sandbox) try(dir string, stdin io.Reader, args ...string) (string, error) {
	cmd := s.cmd(dir, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *sandbox) cmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = filepath.Join(s.dir, dir)
	cmd.Env = s.env
	return cmd
}

func (s *sandbox) write(path string, data []byte) {
	s.t.Helper()
	p := filepath.Join(s.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sandbox) read(path string) []byte {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, path))
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// newRepo makes a repository with lode installed in it only (--local) and
// *.csv, *.bin tracked.
func (s *sandbox) newRepo(name string) {
	s.run("", "git", "init", "-q", name)
	s.run(name, "git", "lode", "install", "--local")
	s.run(name, "git", "lode", "track", "*.csv", "*.bin")
	s.run(name, "git", "add", ".gitattributes")
	s.run(name, "git", "commit", "-q", "-m", "attributes")
}

// Two git commands adding different and overlapping files to the same store
// at the same time both succeed, and the store verifies.
func TestConcurrentGitAdd(t *testing.T) {
	s := newSandbox(t)
	s.newRepo("repo")
	s.run("repo", "git", "worktree", "add", "-q", "../wt", "-b", "other")
	shared := genCSV(40000, 1)
	s.write("repo/a.csv", append(bytes.Clone(shared), genCSV(5000, 2)...))
	s.write("repo/b.bin", genRand(1<<20, 3))
	s.write("wt/a.csv", append(bytes.Clone(shared), genCSV(5000, 4)...))
	s.write("wt/c.bin", genRand(1<<20, 5))

	var wg sync.WaitGroup
	errs := make([]string, 2)
	for i, dir := range []string{"repo", "wt"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := s.try(dir, nil, "sh", "-c", "git add . && git commit -q -m concurrent"); err != nil {
				errs[i] = out + err.Error()
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
	out := s.run("repo", "git", "lode", "verify")
	if !strings.Contains(out, "verify OK") {
		t.Fatalf("verify after concurrent adds:\n%s", out)
	}
	// Each side checks out the other's files correctly.
	for _, dir := range []string{"repo", "wt"} {
		s.run(dir, "sh", "-c", "rm -f *.csv *.bin && git checkout -- .")
	}
	if !bytes.Equal(s.read("repo/b.bin"), genRand(1<<20, 3)) || !bytes.Equal(s.read("wt/c.bin"), genRand(1<<20, 5)) {
		t.Fatal("content differs after checkout")
	}
}

// A clean killed halfway through leaves a store that verify accepts, and
// the same content added afterwards round-trips.
func TestKilledCleanLeavesValidStore(t *testing.T) {
	s := newSandbox(t)
	s.newRepo("repo")
	s.write("repo/first.csv", genCSV(20000, 1))
	s.run("repo", "git", "add", "first.csv")
	s.run("repo", "git", "commit", "-q", "-m", "first")

	// Give it part of a large input, and kill it while it is writing.
	data := genRand(24<<20, 9)
	cmd := s.cmd("repo", filepath.Join(binDir, "git-lode"), "clean", "big.bin")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write(data[:16<<20]); err != nil {
		t.Fatal(err)
	}
	// Let it work on what it has, then kill it without warning.
	waitForTmp(t, filepath.Join(s.dir, "repo/.git/lode/tmp"))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	stdin.Close()

	out, err := s.try("repo", nil, "git", "lode", "verify")
	if err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("verify after a killed clean failed: %v\n%s", err, out)
	}
	// The interrupted content can be added for real afterwards.
	s.write("repo/big.bin", data)
	s.run("repo", "git", "add", "big.bin")
	s.run("repo", "git", "commit", "-q", "-m", "big")
	s.run("repo", "rm", "big.bin")
	s.run("repo", "git", "checkout", "--", "big.bin")
	if !bytes.Equal(s.read("repo/big.bin"), data) {
		t.Fatal("big.bin differs after checkout")
	}
}

// waitForTmp waits until a writer has a temporary file in dir.
func waitForTmp(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the clean process never started writing")
}
