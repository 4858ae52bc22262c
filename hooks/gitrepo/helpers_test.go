package gitrepo

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
)

// gitEnv returns an environment for git that ignores the user's and the
// system's configuration and any GIT_* variables of the test's caller.
func gitEnv(tb testing.TB) []string {
	tb.Helper()
	home := tb.TempDir()
	global := filepath.Join(home, "gitconfig")
	if err := os.WriteFile(global, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+global,
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"LC_ALL=C",
	)
}

// testRepo is a scratch repository driven by the real git binary.
type testRepo struct {
	tb   testing.TB
	dir  string
	env  []string
	time int64 // committer and author time of the next commit
}

func requireGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not found on PATH:", err)
	}
}

// newTestRepo runs git init (with args such as --bare) in a new directory.
func newTestRepo(tb testing.TB, args ...string) *testRepo {
	tb.Helper()
	requireGit(tb)
	tr := &testRepo{tb: tb, dir: filepath.Join(tb.TempDir(), "repo"), env: gitEnv(tb), time: 1_700_000_000}
	tr.run("", append([]string{"init", "-q", "-b", "main"}, append(args, tr.dir)...)...)
	return tr
}

// run runs git in dir (relative to the repository; "" for the test's
// working directory) and returns its trimmed output.
func (tr *testRepo) run(dir string, args ...string) string {
	tr.tb.Helper()
	return tr.runStdin(dir, nil, args...)
}

func (tr *testRepo) runStdin(dir string, stdin []byte, args ...string) string {
	tr.tb.Helper()
	cmd := exec.Command("git", args...)
	if dir != "" {
		cmd.Dir = filepath.Join(tr.dir, dir)
	}
	cmd.Env = append(tr.env,
		fmt.Sprintf("GIT_AUTHOR_DATE=@%d +0000", tr.time),
		fmt.Sprintf("GIT_COMMITTER_DATE=@%d +0000", tr.time))
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tr.tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

// git runs git in the repository.
func (tr *testRepo) git(args ...string) string {
	tr.tb.Helper()
	return tr.run(".", args...)
}

// write creates or replaces a file in the working tree.
func (tr *testRepo) write(path string, content []byte, mode os.FileMode) {
	tr.tb.Helper()
	p := filepath.Join(tr.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.tb.Fatal(err)
	}
	if err := os.WriteFile(p, content, mode); err != nil {
		tr.tb.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		tr.tb.Fatal(err)
	}
}

// commit stages everything and commits; it returns the new commit's hash.
// Each commit is one minute after the previous one.
func (tr *testRepo) commit(msg string) plumbing.Hash {
	tr.tb.Helper()
	tr.git("add", "-A")
	tr.git("commit", "-q", "--allow-empty", "-m", msg)
	tr.time += 60
	return plumbing.NewHash(tr.git("rev-parse", "HEAD"))
}

func (tr *testRepo) open() *Repo {
	tr.tb.Helper()
	r, err := Open(tr.dir)
	if err != nil {
		tr.tb.Fatal(err)
	}
	tr.tb.Cleanup(func() { r.Close() })
	return r
}

// ptr returns a valid pointer to the content s.
func ptr(s string) pointer.Pointer {
	return pointer.Pointer{OID: cas.Sum([]byte(s)), Size: int64(len(s))}
}

// blobHash returns git's hash of content.
func blobHash(content []byte) plumbing.Hash {
	return plumbing.ComputeHash(plumbing.BlobObject, content)
}
