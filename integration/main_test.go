package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// binDir holds the git-lode binary built for this test run.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lode-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	args := []string{"build", "-o", filepath.Join(dir, "git-lode")}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "../cmd/git-lode")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build git-lode:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// requireTool skips the test when a tool is missing, or fails it when
// LODE_TEST_REQUIRE_TOOLS is set.
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("LODE_TEST_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is required (LODE_TEST_REQUIRE_TOOLS is set) but not on PATH: run 'make deps'", name)
		}
		t.Skipf("%s not on PATH; run 'make deps'", name)
	}
}

// isolatedEnv returns the environment for git and git-lode in a test: the
// test binary first on PATH, HOME and git's global config inside home, no
// system config, fixed identities and dates.
func isolatedEnv(home string) []string {
	env := []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME=Lode Test", "GIT_AUTHOR_EMAIL=test@lode.invalid",
		"GIT_COMMITTER_NAME=Lode Test", "GIT_COMMITTER_EMAIL=test@lode.invalid",
		"GIT_AUTHOR_DATE=2026-11-27T12:00:00Z", "GIT_COMMITTER_DATE=2026-11-27T12:00:00Z",
		"LANG=C", "LC_ALL=C",
	}
	// A race-enabled binary sleeps a second at exit by default, and git
	// waits for its filter process to exit.
	env = append(env, "GORACE=atexit_sleep_ms=0 halt_on_error=1")
	return env
}

func writeGlobalGitConfig(home string) error {
	return os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"), 0o644)
}

func TestScripts(t *testing.T) {
	requireTool(t, "git")
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			home := filepath.Join(e.WorkDir, ".home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			if err := writeGlobalGitConfig(home); err != nil {
				return err
			}
			for _, kv := range isolatedEnv(home) {
				k, v, _ := strings.Cut(kv, "=")
				e.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gencsv":   cmdGenCSV,
			"genrand":  cmdGenRand,
			"insert":   cmdInsert,
			"flipbyte": cmdFlipByte,
			"b3sum":    cmdB3sum,
		},
		RequireExplicitExec: false,
	})
}

// gencsv FILE ROWS SEED: a deterministic CSV file.
func cmdGenCSV(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: gencsv FILE ROWS SEED")
	}
	rows, _ := strconv.Atoi(args[1])
	seed, _ := strconv.ParseUint(args[2], 10, 64)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), genCSV(rows, seed), 0o644))
}

func genCSV(rows int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	var b bytes.Buffer
	b.WriteString("id,day,value,label\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,2026-%02d-%02d,%.5f,class%d\n", i, 1+r.IntN(12), 1+r.IntN(28), r.Float64()*1000, r.IntN(10))
	}
	return b.Bytes()
}

// genrand FILE BYTES SEED: deterministic incompressible bytes.
func cmdGenRand(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: genrand FILE BYTES SEED")
	}
	n, _ := strconv.Atoi(args[1])
	seed, _ := strconv.ParseUint(args[2], 10, 64)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), genRand(n, seed), 0o644))
}

func genRand(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 5))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// insert FILE OFFSET TEXT: insert TEXT at byte OFFSET of FILE.
func cmdInsert(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: insert FILE OFFSET TEXT")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	off, _ := strconv.Atoi(args[1])
	if off > len(b) {
		ts.Fatalf("offset %d past end of %s (%d bytes)", off, args[0], len(b))
	}
	out := append(append(append([]byte{}, b[:off]...), args[2]...), b[off:]...)
	ts.Check(os.WriteFile(p, out, 0o644))
}

// flipbyte GLOB OFFSET: flip one bit of the byte at OFFSET (negative: from
// the end) of every file matching GLOB.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: flipbyte GLOB OFFSET")
	}
	files, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(files) == 0 {
		ts.Fatalf("no file matches %s", args[0])
	}
	off, _ := strconv.ParseInt(args[1], 10, 64)
	for _, f := range files {
		b, err := os.ReadFile(f)
		ts.Check(err)
		i := off
		if i < 0 {
			i += int64(len(b))
		}
		if i < 0 || i >= int64(len(b)) {
			ts.Fatalf("offset %d outside %s (%d bytes)", off, f, len(b))
		}
		b[i] ^= 0x10
		ts.Check(os.Chmod(f, 0o644)) // packs are read-only
		ts.Check(os.WriteFile(f, b, 0o644))
	}
}

// b3sum FILE: print the BLAKE3 of FILE (to compare with pointers).
func cmdB3sum(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: b3sum FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Logf("b3sum %s", args[0])
	fmt.Fprintf(ts.Stdout(), "%s  %s\n", blake3Hex(b), args[0])
}
