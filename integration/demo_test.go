package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// `make demo` (demo.sh) runs end to end with the binary built for this test
// run and every claim it checks holds: it exits 0 only if bob's clone and
// alice's pull match, the mount fetched clearly less than the dataset,
// both models beat chance, v1 and v2 differ and v1 twice is the same model.
// The lines checked here are the ones the demo prints after those checks.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes about a minute")
	}
	for _, tool := range []string{"bash", "git", "python3", "poetry", "fusermount3"} {
		requireTool(t, tool)
	}
	requireFUSE(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, "bash", "demo.sh")
	cmd.Env = append(os.Environ(),
		"LODE_DEMO_BIN="+binDir,
		"TMPDIR="+tmp,
		"GORACE=atexit_sleep_ms=0 halt_on_error=1",
	)
	start := time.Now()
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	t.Logf("demo.sh ran in %v", time.Since(start).Round(time.Second))
	for _, want := range []string{
		"$ export HOME=" + filepath.Join(tmp, "lode-demo."),
		"$ git lode track '*.csv' 'data/raw/**'",
		"ok: bob's data/ is byte for byte alice's",
		"ok: alice's data/train.csv is bob's v2 (cmp)",
		"$ GIT_LODE_SKIP_SMUDGE=1 git clone -q shared.git trainer",
		"ok: both models learn the label",
		"ok: v1 and v2 give different metrics",
		"ok: v1 from the mount and v1 from bob's checkout: the same model, byte for byte",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`fetched (\d+) bytes of a (\d+)-byte dataset`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("demo output lacks \"fetched X bytes of a Y-byte dataset\":\n%s", out)
	}
	fetched, _ := strconv.ParseInt(m[1], 10, 64)
	size, _ := strconv.ParseInt(m[2], 10, 64)
	if fetched <= 0 || 2*fetched >= size {
		t.Errorf("the demo's mount fetched %d bytes of a %d-byte dataset; want some, and less than half", fetched, size)
	}
	// The demo cleans up after itself, mounts included.
	left, _ := filepath.Glob(filepath.Join(tmp, "lode-demo.*"))
	if len(left) > 0 {
		t.Errorf("demo left %v behind", left)
	}
}
