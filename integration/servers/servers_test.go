package servers

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLaunchAndStop(t *testing.T) {
	bins := Require(t, S3Tool(), GCSTool())
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Launch(ctx, Options{Dir: dir, S3: true, GCS: true, Binaries: bins})
	if err != nil {
		t.Fatal(err)
	}
	env := s.Env()
	if env.S3Bucket != Bucket || env.GCSBucket != Bucket || env.S3AccessKey != AccessKey {
		t.Errorf("Env = %+v", env)
	}
	for _, url := range []string{env.S3Endpoint + "/", env.GCSEndpoint() + "b/" + Bucket} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
	}
	procs := slices.Clone(s.procs)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.cmd.ProcessState == nil {
			t.Errorf("%s still running after Stop", p.name)
		}
	}
}

func TestDetached(t *testing.T) {
	bins := Require(t, S3Tool(), GCSTool())
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Launch(ctx, Options{Dir: dir, S3: true, GCS: true, Detach: true, Binaries: bins})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	path, err := WriteEnvFile(dir, s.Env())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
		"LODE_TEST_S3_BUCKET", "STORAGE_EMULATOR_HOST", "LODE_TEST_GCS_BUCKET"} {
		if !strings.Contains(string(data), "export "+v+"='") {
			t.Errorf("env file lacks %s:\n%s", v, data)
		}
	}
	var pids []int
	for _, tool := range []Tool{S3Tool(), GCSTool()} {
		b, err := os.ReadFile(filepath.Join(dir, tool.Name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if !isTool(pid, tool.Name) {
			t.Fatalf("pid %d of %s is not running", pid, tool.Name)
		}
		pids = append(pids, pid)
	}
	if err := StopDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d still running after StopDir", pid)
		}
	}
	for _, f := range []string{"versitygw.pid", "fake-gcs-server.pid", EnvFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
	if err := StopDir(dir); err != nil {
		t.Errorf("second StopDir: %v", err)
	}
}

func TestEnvFromLookup(t *testing.T) {
	e := Env{S3Endpoint: "http://127.0.0.1:1", S3Region: "r", S3AccessKey: "a", S3SecretKey: "s",
		S3Bucket: "b", GCSHost: "127.0.0.1:2", GCSBucket: "g"}
	if got := envFromLookup(e.Getenv); got != e {
		t.Errorf("round trip through variables: %+v, want %+v", got, e)
	}
	if got := envFromLookup(func(string) string { return "" }); got != (Env{}) {
		t.Errorf("empty environment gave %+v", got)
	}
}

func TestPrefix(t *testing.T) {
	a, b := Prefix(t), Prefix(t)
	if a == b || !strings.HasPrefix(a, "TestPrefix-") {
		t.Errorf("Prefix: %q, %q", a, b)
	}
	t.Run("sub/with space", func(t *testing.T) {
		if p := Prefix(t); strings.ContainsAny(p, "/ ") {
			t.Errorf("Prefix %q has unsafe characters", p)
		}
	})
}
