package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// locationCase configures a repository and says where its lode remote or
// store must resolve to. In every string, {root} is the work tree's top
// level, {up} its parent, {home} $HOME and {abs} a directory outside the
// repository.
type locationCase struct {
	name     string
	toml     string   // .lode.toml, if not empty
	user     string   // the user configuration, if not empty
	env      []string // added to the environment
	origin   string   // git remote origin's URL, if not empty
	want     string   // the remote's Location, or the store directory
	wantErr  string   // else a substring of the error
	noSecret string   // a string the error must not contain
}

// setupLocation makes a repository with a work tree for tc, changes to its
// subdirectory sub/deep, and returns the app and the repository.
func setupLocation(t *testing.T, tc *locationCase) (*app, *repo) {
	t.Helper()
	top := t.TempDir()
	if real, err := filepath.EvalSymlinks(top); err == nil {
		top = real
	}
	root := filepath.Join(top, "repo")
	home := filepath.Join(top, "home")
	abs := filepath.Join(top, "abs")
	for _, d := range []string{filepath.Join(root, "sub", "deep"), home, abs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// git runs with the test process's environment.
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CONFIG_GLOBAL", filepath.Join(home, ".gitconfig"))
	rep := strings.NewReplacer("{root}", root, "{up}", top, "{home}", home, "{abs}", abs)
	for _, s := range []*string{&tc.toml, &tc.user, &tc.origin, &tc.want, &tc.wantErr} {
		*s = rep.Replace(*s)
	}
	gitCmd(t, root, "init", "-q")
	if tc.origin != "" {
		gitCmd(t, root, "remote", "add", "origin", tc.origin)
	}
	if tc.toml != "" {
		writeFile(t, filepath.Join(root, ".lode.toml"), tc.toml)
	}
	if tc.user != "" {
		writeFile(t, filepath.Join(home, ".config", "lode", "config.toml"), tc.user)
	}
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "AWS_EC2_METADATA_DISABLED=true"}
	for _, kv := range tc.env {
		env = append(env, rep.Replace(kv))
	}
	t.Chdir(filepath.Join(root, "sub", "deep"))
	a := newApp(IO{}, env)
	r, err := a.findRepo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.workTree != root {
		t.Fatalf("work tree %q, want %q", r.workTree, root)
	}
	return a, r
}

func gitCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// check compares a resolved place, or its error, with tc.
func (tc *locationCase) check(t *testing.T, got string, err error) {
	t.Helper()
	switch {
	case err != nil && tc.noSecret != "" && strings.Contains(err.Error(), tc.noSecret):
		t.Errorf("error shows %q: %v", tc.noSecret, err)
	case tc.wantErr != "":
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("got %q, %v; want an error containing %q", got, err, tc.wantErr)
		}
	case err != nil:
		t.Errorf("error %v, want %q", err, tc.want)
	case got != tc.want:
		t.Errorf("got %q, want %q", got, tc.want)
	}
}

func remoteTOML(url string) string { return "[remote]\nurl = \"" + url + "\"\n" }
func storeTOML(dir string) string  { return "[store]\ndir = \"" + dir + "\"\n" }

// TestRemoteLocation runs from the subdirectory sub/deep of the work
// tree: relative paths must not depend on it.
func TestRemoteLocation(t *testing.T) {
	for _, tc := range []locationCase{
		{name: "relative in .lode.toml", toml: remoteTOML("../store"), want: "{up}/store"},
		{name: "relative below the root", toml: remoteTOML("./lode-data/x"), want: "{root}/lode-data/x"},
		{name: "absolute", toml: remoteTOML("{abs}/store"), want: "{abs}/store"},
		{name: "home", toml: remoteTOML("~/store"), want: "{home}/store"},
		{name: "file URL", toml: remoteTOML("file://{abs}/f"), want: "{abs}/f"},
		{name: "file URL localhost", toml: remoteTOML("file://localhost{abs}/g"), want: "{abs}/g"},
		{name: "file URL escapes", toml: remoteTOML("file://{abs}/my%20store"), want: "{abs}/my store"},
		{name: "file URL with host", toml: remoteTOML("file://host/srv/store"), wantErr: `names the host "host", and lode reads only this machine's files: write file:///host/srv/store`},
		{name: "file URL relative", toml: remoteTOML("file://relative/path"), wantErr: "or relative/path (a path relative to the repository root)"},
		{name: "file URL userinfo", env: []string{"LODE_REMOTE_URL=file://alice:hunter2@localhost/x"}, wantErr: "file://xxxxx@localhost/x", noSecret: "hunter2"},
		{name: "user config relative", user: remoteTOML("user-store"), toml: remoteTOML("../store"), want: "{root}/user-store"},
		{name: "user config in source", user: remoteTOML("file://h/x"), wantErr: "remote.url in {home}/.config/lode/config.toml"},
		{name: "env relative", env: []string{"LODE_REMOTE_URL=../env-store"}, toml: remoteTOML("../store"), want: "{up}/env-store"},
		{name: "colon path", toml: remoteTOML("s3:bucket"), wantErr: "neither a URL"},
		{name: "s3", env: []string{"LODE_REMOTE_URL=s3://bucket/x"}, want: "s3://bucket/x"},
		{name: "s3 credentials", env: []string{"LODE_REMOTE_URL=s3://AKIAEXAMPLE:hunter2@bucket/x"}, wantErr: "AWS_ACCESS_KEY_ID", noSecret: "hunter2"},
		{name: "s3 credentials slash", toml: remoteTOML("s3://AKIAEXAMPLE:hun/ter2@bucket/x"), wantErr: "credentials do not belong in the URL", noSecret: "ter2"},
		{name: "gs credentials", env: []string{"LODE_REMOTE_URL=gs://alice:hunter2@bucket"}, wantErr: "application default credentials", noSecret: "hunter2"},
		{name: "https userinfo", toml: remoteTOML("https://alice:hunter2@example.invalid/store"), want: "https://example.invalid/store/"},
		{name: "https userinfo malformed", toml: remoteTOML("https://alice:hunter2@example.invalid/%zz"), wantErr: "https://xxxxx@example.invalid/%zz", noSecret: "hunter2"},
		{name: "https token malformed", env: []string{"LODE_REMOTE_URL=https://hunter2@example.invalid:port/"}, wantErr: "malformed URL", noSecret: "hunter2"},

		// The embedded default, inside the git remote.
		{name: "git remote relative", origin: "../server.git", want: "{up}/server.git/lode"},
		{name: "git remote home", origin: "~/server.git", want: "{home}/server.git/lode"},
		{name: "git remote file URL", origin: "file://{abs}/s.git", want: "{abs}/s.git/lode"},
		{name: "git remote file localhost", origin: "file://localhost{abs}/s.git", want: "{abs}/s.git/lode"},
		{name: "git remote file escapes", origin: "file://{abs}/my%20s.git", want: "{abs}/my s.git/lode"},
		{name: "git remote file host", origin: "file://host/s.git", wantErr: "git remote origin: file://host/s.git names the host"},
		{name: "git remote https", origin: "https://alice:hunter2@example.invalid/r.git", wantErr: "https://xxxxx@example.invalid/r.git, which is not a local path", noSecret: "hunter2"},
		{name: "git remote scp", origin: "git@example.invalid:r.git", wantErr: "not a local path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, r := setupLocation(t, &tc)
			var got string
			b, err := a.openRemoteBackend(context.Background(), r, "", "")
			if err == nil {
				got = b.Location()
				b.Close()
			}
			tc.check(t, got, err)
			// Nothing resolved against the working directory.
			for _, d := range []string{"sub", "sub/deep"} {
				ents, _ := os.ReadDir(filepath.Join(r.workTree, d))
				if len(ents) > 1 || len(ents) == 1 && ents[0].Name() != "deep" {
					t.Errorf("%s holds %v", d, ents)
				}
			}
		})
	}
}

func TestStoreLocation(t *testing.T) {
	for _, tc := range []locationCase{
		{name: "default", want: "{root}/.git/lode"},
		{name: "relative in .lode.toml", toml: storeTOML("../cache"), want: "{up}/cache"},
		{name: "home", toml: storeTOML("~/cache"), want: "{home}/cache"},
		{name: "absolute", toml: storeTOML("{abs}/c/"), want: "{abs}/c"},
		{name: "file URL", toml: storeTOML("file://{abs}/c"), want: "{abs}/c"},
		{name: "file URL with host", toml: storeTOML("file://host/c"), wantErr: "store.dir in {root}/.lode.toml: file://host/c names the host"},
		{name: "remote URL", toml: storeTOML("s3://bucket/x"), wantErr: "the local store is a directory"},
		{name: "user config relative", user: storeTOML("cache"), want: "{root}/cache"},
		{name: "env relative", env: []string{"LODE_STORE_DIR=cache"}, toml: storeTOML("../cache"), want: "{root}/cache"},
		{name: "env absolute", env: []string{"LODE_STORE_DIR={abs}/e"}, want: "{abs}/e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, r := setupLocation(t, &tc)
			got, err := a.storeDir(context.Background(), r)
			tc.check(t, got, err)
		})
	}
}

func TestResolvePath(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"rel/x", "/root/rel/x", ""},
		{"../x", "/x", ""},
		{"/abs//x/", "/abs/x", ""},
		{"~", "/home/me", ""},
		{"~/", "/home/me", ""},
		{"~/x", "/home/me/x", ""},
		{"~root/x", "/root/x", ""},
		{"~no-such-user-here/x", "", "cannot expand"},
		{"", "", "empty path"},
	} {
		got, err := resolvePath(tc.in, "/root", "/home/me")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resolvePath(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
		} else if err != nil || got != tc.want {
			t.Errorf("resolvePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := resolvePath("~/x", "/root", ""); err == nil {
		t.Error("~/x without HOME resolved")
	}
	if _, err := resolvePath("x", "", "/home/me"); err == nil {
		t.Error("a relative path without a root resolved")
	}
}

// The embedded default of a git remote that has a work tree is that
// repository's local store, read only.
func TestEmbeddedRemote(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string // under the top directory
		path     string            // the git remote's path, under top
		want     string            // under top
		workTree bool
	}{
		{name: "bare", files: map[string]string{"srv.git/HEAD": "ref: refs/heads/main\n"}, path: "srv.git", want: "srv.git/lode"},
		{name: "work tree", files: map[string]string{"alice/.git/HEAD": "ref: refs/heads/main\n"}, path: "alice", want: "alice/.git/lode", workTree: true},
		{name: "its .git", files: map[string]string{"alice/.git/HEAD": "ref: refs/heads/main\n"}, path: "alice/.git", want: "alice/.git/lode", workTree: true},
		{name: "linked worktree", files: map[string]string{
			"main/.git/HEAD":                   "ref: refs/heads/main\n",
			"main/.git/worktrees/wt/HEAD":      "ref: refs/heads/wt\n",
			"main/.git/worktrees/wt/commondir": "../..\n",
			"wt/.git":                          "gitdir: ../main/.git/worktrees/wt\n",
		}, path: "wt", want: "main/.git/lode", workTree: true},
		{name: "store.dir of its .lode.toml", files: map[string]string{
			"alice/.git/HEAD":  "ref: refs/heads/main\n",
			"alice/.lode.toml": "[store]\ndir = \"../shared-store\"\n",
		}, path: "alice", want: "shared-store", workTree: true},
		{name: "its .lode.toml with a typo", files: map[string]string{
			"alice/.git/HEAD":  "ref: refs/heads/main\n",
			"alice/.lode.toml": "[store]\ndri = \"../x\"\n",
		}, path: "alice", want: "alice/.git/lode", workTree: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			for p, data := range tc.files {
				writeFile(t, filepath.Join(top, p), data)
			}
			a := newApp(IO{}, []string{"HOME=" + top})
			em, err := a.embeddedRemote(filepath.Join(top, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if em.dir != filepath.Join(top, tc.want) || em.workTree != tc.workTree {
				t.Fatalf("got %s (work tree %v), want %s (%v)", em.dir, em.workTree, filepath.Join(top, tc.want), tc.workTree)
			}
		})
	}
}
