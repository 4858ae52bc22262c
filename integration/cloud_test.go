package integration

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lodevcs/lode/integration/servers"
)

// cloudRepo makes server.git and a clone "a" with data committed, lode
// configured globally, and env added to the sandbox's environment.
func cloudRepo(t *testing.T, env ...string) (*sandbox, []byte) {
	s := newSandbox(t)
	s.env = append(s.env, env...)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.csv")
	data := genCSV(30000, 5)
	s.write("a/data.csv", data)
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "v1")
	return s, data
}

// pushedFrom reports whether server.git has the clone's HEAD.
func (s *sandbox) pushedFrom(clone string) bool {
	head := strings.TrimSpace(s.run(clone, "git", "rev-parse", "HEAD"))
	_, err := s.try("server.git", nil, "git", "cat-file", "-e", head+"^{commit}")
	return err == nil
}

// pushed reports whether server.git received main.
func (s *sandbox) pushed() bool {
	_, err := s.try("server.git", nil, "git", "rev-parse", "--verify", "-q", "main")
	return err == nil
}

// The full round trip through real object stores: push uploads, a clone
// checks out, verify --remote reads everything back.
func TestCloudRemotes(t *testing.T) {
	env := servers.Start(t)
	for _, tc := range []struct {
		name, url string
	}{
		{"s3", "s3://" + env.S3Bucket + "/" + servers.Prefix(t)},
		{"gcs", "gs://" + env.GCSBucket + "/" + servers.Prefix(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, data := cloudRepo(t, append(env.Vars(), "LODE_REMOTE_URL="+tc.url)...)
			out := s.run("a", "git", "push", "origin", "main")
			if !strings.Contains(out, "pushed 1 file(s) to "+tc.url) {
				t.Fatalf("push output:\n%s", out)
			}
			s.run("", "git", "clone", "-q", "server.git", "b")
			if !bytes.Equal(s.read("b/data.csv"), data) {
				t.Fatal("clone differs")
			}
			if out := s.run("b", "git", "lode", "verify", "--remote"); !strings.Contains(out, "verify --remote OK") {
				t.Fatal(out)
			}
		})
	}
}

// Wrong credentials: the push stops before git sends anything, and the
// message names the variables to set.
func TestS3WrongCredentials(t *testing.T) {
	env := servers.StartS3(t)
	vars := append(env.Vars(), "AWS_SECRET_ACCESS_KEY=wrong-secret", "LODE_REMOTE_URL=s3://"+env.S3Bucket+"/"+servers.Prefix(t))
	s, _ := cloudRepo(t, vars...)
	out, err := s.try("a", nil, "git", "push", "origin", "main")
	t.Logf("push with a wrong secret:\n%s", out)
	if err == nil {
		t.Fatalf("push succeeded with a wrong secret:\n%s", out)
	}
	for _, want := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "push was stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("push output does not mention %s:\n%s", want, out)
		}
	}
	if s.pushed() {
		t.Fatal("git pushed the commit although its data was not uploaded")
	}
}

// A remote that answers 500: lode retries, then fails clearly, and git
// does not push.
func TestRemoteServerErrors(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}))
	defer srv.Close()
	s, _ := cloudRepo(t,
		"AWS_ENDPOINT_URL="+srv.URL, "AWS_ACCESS_KEY_ID=k", "AWS_SECRET_ACCESS_KEY=s", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "LODE_REMOTE_URL=s3://bucket/prefix")
	out, err := s.try("a", nil, "git", "push", "origin", "main")
	t.Logf("push to a failing server:\n%s", out)
	if err == nil {
		t.Fatalf("push succeeded against a failing server:\n%s", out)
	}
	if n := requests.Load(); n < 3 {
		t.Errorf("only %d requests: lode did not retry", n)
	}
	if !strings.Contains(out, "500") || !strings.Contains(out, "push was stopped") {
		t.Errorf("push output:\n%s", out)
	}
	if s.pushed() {
		t.Fatal("git pushed the commit although its data was not uploaded")
	}
	// A remote that is not there at all fails the same way.
	s.env = append(s.env, "AWS_ENDPOINT_URL=http://127.0.0.1:1")
	if out, err := s.try("a", nil, "git", "push", "origin", "main"); err == nil || s.pushed() {
		t.Fatalf("push to an unreachable remote: %v\n%s", err, out)
	}
}

// A plain static file server over a remote folder is enough for clones.
func TestCloneOverPlainHTTP(t *testing.T) {
	s, data := cloudRepo(t)
	s.run("a", "git", "push", "-q", "origin", "main")
	srv := httptest.NewServer(http.FileServer(http.Dir(s.dir + "/server.git/lode")))
	defer srv.Close()
	s.env = append(s.env, "LODE_REMOTE_URL="+srv.URL+"/")
	s.run("", "git", "clone", "-q", "server.git", "b")
	if !bytes.Equal(s.read("b/data.csv"), data) {
		t.Fatal("clone over HTTP differs")
	}
	if out := s.run("b", "git", "lode", "verify", "--remote"); !strings.Contains(out, "verify --remote OK") {
		t.Fatal(out)
	}
	// Pushing to it is refused clearly, and git does not push.
	s.write("b/data.csv", genCSV(100, 9))
	s.run("b", "git", "commit", "-q", "-am", "v2")
	out, err := s.try("b", nil, "git", "push", "origin", "main")
	t.Logf("push to an HTTP remote:\n%s", out)
	if err == nil || !strings.Contains(out, "read-only") || s.pushedFrom("b") {
		t.Fatalf("push to an HTTP remote: %v\n%s", err, out)
	}
}

// A mount that cannot read the remote says so and mounts nothing, rather
// than reporting ready and failing every read.
func TestMountWithWrongCredentials(t *testing.T) {
	requireFUSE(t)
	env := servers.StartS3(t)
	url := "LODE_REMOTE_URL=s3://" + env.S3Bucket + "/" + servers.Prefix(t)
	s, _ := cloudRepo(t, append(env.Vars(), url)...)
	s.run("a", "git", "push", "-q", "origin", "main")
	s.env = append(s.env, "GIT_LODE_SKIP_SMUDGE=1")
	s.run("", "git", "clone", "-q", "server.git", "b")
	s.env = append(s.env, "AWS_SECRET_ACCESS_KEY=wrong-secret")
	if err := os.MkdirAll(filepath.Join(s.dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := s.try("b", nil, "git", "lode", "mount", "HEAD", "../m")
	t.Logf("mount with a wrong secret:\n%s", out)
	if err == nil {
		s.try("b", nil, "git", "lode", "umount", "--lazy", "../m")
		t.Fatal("mount reported ready although the remote refuses its credentials")
	}
	if !strings.Contains(out, "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("the error does not say which credentials to fix:\n%s", out)
	}
	if b, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(b), filepath.Join(s.dir, "m")) {
		t.Fatal("something is mounted")
	}
}
