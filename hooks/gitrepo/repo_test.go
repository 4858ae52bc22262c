package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func TestResolve(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("f", []byte("1\n"), 0o644)
	c1 := tr.commit("c1")
	tr.write("f", []byte("2\n"), 0o644)
	tr.commit("c2")
	tr.git("branch", "feature")
	tr.git("tag", "light", c1.String())
	tr.git("tag", "-a", "-m", "annotated", "v1", "HEAD")
	tr.git("tag", "-a", "-m", "tag of a tag", "outer", "v1")
	tr.git("tag", "treetag", "HEAD^{tree}")
	tr.git("checkout", "-q", "feature")
	tr.write("g", []byte("side\n"), 0o644)
	tr.commit("side")
	tr.git("checkout", "-q", "main")
	tr.write("f", []byte("3\n"), 0o644)
	tr.commit("c3")
	tr.git("merge", "-q", "--no-ff", "-m", "merge", "feature")
	tr.git("update-ref", "refs/remotes/origin/main", "HEAD~1")
	tr.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
	tr.git("gc", "-q") // packed refs and objects
	tr.git("update-ref", "refs/heads/loose", "HEAD~2")
	r := tr.open()

	head := tr.git("rev-parse", "HEAD")
	valid := []string{
		"HEAD", "@", "main", "refs/heads/main", "heads/main", "feature", "loose", "light",
		"v1", "v1^{commit}", "v1^{}", "outer", "tags/outer", "origin/main", "origin",
		head, strings.ToUpper(head), head[:7], head[:4], head[:9],
		"HEAD~1", "HEAD~2", "HEAD~", "HEAD~~", "HEAD^", "HEAD^^", "HEAD^2", "HEAD^0", "HEAD~0",
		"HEAD^2~1", "main~1^{commit}", "v1~1", "outer^{commit}~1", "HEAD~1^1^{}",
	}
	for _, rev := range valid {
		want := tr.git("rev-parse", "--verify", "-q", rev+"^{commit}")
		got, err := r.Resolve(rev)
		if err != nil || got.String() != want {
			t.Errorf("Resolve(%q) = %v, %v; want %s", rev, got, err, want)
		}
	}

	unknown := []string{
		"", "nope", "HEAD~10", "HEAD^3", "light^2", "treetag", "HEAD^{tree}", "HEAD:f",
		"main@{upstream}", "HEAD..main", "^HEAD", "~1", "config", "objects", "HEAD^{",
		strings.Repeat("4", 40), "abc", "zzzz",
	}
	for _, rev := range unknown {
		got, err := r.Resolve(rev)
		if !errors.Is(err, ErrUnknownRevision) {
			t.Errorf("Resolve(%q) = %v, %v; want ErrUnknownRevision", rev, got, err)
		} else if rev != "" && !strings.Contains(err.Error(), rev) {
			t.Errorf("Resolve(%q) error %q does not name the revision", rev, err)
		}
	}
}

func TestResolveUnbornHead(t *testing.T) {
	tr := newTestRepo(t)
	if _, err := tr.open().Resolve("HEAD"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("Resolve(HEAD) in an empty repository = %v, want ErrUnknownRevision", err)
	}
}

func TestOpen(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("sub/dir/p", ptr("main").Encode(), 0o644)
	mainHead := tr.commit("main")
	wtDir := filepath.Join(filepath.Dir(tr.dir), "wt")
	tr.git("worktree", "add", "-q", "-b", "wt", wtDir)
	wt := &testRepo{tb: t, dir: wtDir, env: tr.env, time: tr.time}
	wt.write("w/p", ptr("worktree").Encode(), 0o644)
	wtHead := wt.commit("in worktree")
	bareDir := filepath.Join(filepath.Dir(tr.dir), "bare.git")
	tr.run("", "clone", "-q", "--bare", tr.dir, bareDir)
	gitDir := filepath.Join(tr.dir, ".git")

	tests := []struct {
		name                     string
		dir                      string
		gitDir, common, workTree string
		head                     plumbing.Hash
		pointerPaths             []string
	}{
		{"top", tr.dir, gitDir, gitDir, tr.dir, mainHead, []string{"sub/dir/p"}},
		{"subdirectory", filepath.Join(tr.dir, "sub", "dir"), gitDir, gitDir, tr.dir, mainHead, []string{"sub/dir/p"}},
		{"linked worktree", filepath.Join(wtDir, "w"), filepath.Join(gitDir, "worktrees", "wt"), gitDir, wtDir, wtHead, []string{"sub/dir/p", "w/p"}},
		{"bare", bareDir, bareDir, bareDir, "", mainHead, []string{"sub/dir/p"}},
		{"inside the git directory", filepath.Join(gitDir, "refs"), gitDir, gitDir, "", mainHead, []string{"sub/dir/p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.GitDir() != tt.gitDir || r.CommonDir() != tt.common || r.WorkTree() != tt.workTree {
				t.Errorf("GitDir, CommonDir, WorkTree = %q, %q, %q; want %q, %q, %q",
					r.GitDir(), r.CommonDir(), r.WorkTree(), tt.gitDir, tt.common, tt.workTree)
			}
			h, err := r.Resolve("HEAD")
			if err != nil || h != tt.head {
				t.Fatalf("Resolve(HEAD) = %v, %v; want %v", h, err, tt.head)
			}
			var paths []string
			if err := r.Pointers(context.Background(), h, func(e Entry) error {
				paths = append(paths, e.Path)
				return e.Err
			}); err != nil {
				t.Fatal(err)
			}
			if strings.Join(paths, ",") != strings.Join(tt.pointerPaths, ",") {
				t.Errorf("Pointers at HEAD = %q, want %q", paths, tt.pointerPaths)
			}
		})
	}

	t.Run("not a repository", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := Open(dir); !errors.Is(err, ErrNotRepo) {
			t.Errorf("Open(%s) = %v, want ErrNotRepo", dir, err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		if _, err := Open(dir); err == nil || errors.Is(err, ErrNotRepo) {
			t.Errorf("Open(%s) = %v, want a not-exist error", dir, err)
		}
	})
	t.Run("broken gitdir file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ".git"), []byte("gitdir: /nonexistent\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); err == nil {
			t.Error("Open succeeded with a .git file naming no directory")
		}
	})
}

func TestShallowClone(t *testing.T) {
	tr := newTestRepo(t)
	for _, s := range []string{"one", "two", "three"} {
		tr.write(s, ptr(s).Encode(), 0o644)
		tr.commit(s)
	}
	dir := filepath.Join(filepath.Dir(tr.dir), "shallow")
	tr.run("", "clone", "-q", "--depth=2", "file://"+tr.dir, dir)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	head, err := r.Resolve("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve("HEAD~2"); !errors.Is(err, ErrUnknownRevision) {
		t.Errorf("Resolve(HEAD~2) past the shallow boundary = %v, want ErrUnknownRevision", err)
	}
	// The shallow commit's tree still holds "one", which is reported.
	if got := reachable(t, r, []plumbing.Hash{head}, nil); strings.Join(got, ",") != "one,three,two" {
		t.Errorf("ReachablePointers in a shallow clone = %q", got)
	}
}
