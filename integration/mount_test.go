package integration

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireFUSE skips (or, in CI, fails) when FUSE cannot be used.
func requireFUSE(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		if os.Getenv("LODE_TEST_REQUIRE_TOOLS") != "" {
			t.Fatalf("FUSE is required (LODE_TEST_REQUIRE_TOOLS is set) but /dev/fuse cannot be opened: %v", err)
		}
		t.Skipf("FUSE not usable here: %v", err)
	}
	f.Close()
}

// mountFixture is a remote with two versions of a dataset and a clone made
// without data.
type mountFixture struct {
	*sandbox
	v1, v2 []byte
}

func newMountFixture(t *testing.T) *mountFixture {
	requireFUSE(t)
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.csv")
	f := &mountFixture{sandbox: s, v1: genCSV(120000, 1)}
	extra := genCSV(2000, 2)
	f.v2 = append(bytes.Clone(f.v1), extra[bytes.IndexByte(extra, '\n')+1:]...) // rows without the header
	s.write("a/data/train.csv", f.v1)
	s.write("a/README.md", []byte("# dataset\n"))
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "v1")
	s.run("a", "git", "tag", "v1")
	s.write("a/data/train.csv", f.v2)
	s.run("a", "git", "commit", "-q", "-am", "v2")
	s.run("a", "git", "push", "-q", "origin", "main", "v1")
	s.env = append(s.env, "GIT_LODE_SKIP_SMUDGE=1")
	s.run("", "git", "clone", "-q", "server.git", "c")
	s.env = s.env[:len(s.env)-1]
	return f
}

var mountLine = regexp.MustCompile(`process (\d+), log (\S+)\)`)

// mount mounts rev of clone c at dir and returns the mount process's pid
// and log file; the mount is undone at the end of the test.
func (f *mountFixture) mount(rev, dir string) (int, string) {
	f.t.Helper()
	return f.sandbox.mount("c", rev, dir)
}

// mount mounts rev of the repository repo at dir (both relative to the
// sandbox) with git lode mount and flags, and returns the mount process's
// pid and log file; the mount is undone at the end of the test.
func (s *sandbox) mount(repo, rev, dir string, flags ...string) (int, string) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Join(s.dir, dir), 0o755); err != nil {
		s.t.Fatal(err)
	}
	args := append([]string{"git", "lode", "mount"}, flags...)
	out := s.run(repo, append(args, rev, filepath.Join(s.dir, dir))...)
	m := mountLine.FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("mount output: %s", out)
	}
	pid, _ := strconv.Atoi(m[1])
	s.t.Cleanup(func() { s.try(repo, nil, "git", "lode", "umount", "--lazy", filepath.Join(s.dir, dir)) })
	return pid, m[2]
}

func TestMountRemoteOnlyClone(t *testing.T) {
	f := newMountFixture(t)
	f.mount("v1", "m1")
	f.mount("HEAD", "m2")

	if got := f.read("m1/data/train.csv"); !bytes.Equal(got, f.v1) {
		t.Fatal("v1 differs through the mount")
	}
	if got := f.read("m1/README.md"); string(got) != "# dataset\n" {
		t.Fatalf("README.md = %q", got)
	}
	fi, err := os.Stat(filepath.Join(f.dir, "m2/data/train.csv"))
	if err != nil || fi.Size() != int64(len(f.v2)) || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat: %v %v", fi, err)
	}
	// A partial read fetches a fraction of the file.
	fh, err := os.Open(filepath.Join(f.dir, "m2/data/train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	off := int64(len(f.v2) / 2)
	if _, err := fh.ReadAt(buf, off); err != nil || !bytes.Equal(buf, f.v2[off:off+4096]) {
		t.Fatalf("ReadAt: %v", err)
	}
	fh.Close()
	time.Sleep(1100 * time.Millisecond) // the mount publishes its figures every second
	out := f.run("c", "git", "lode", "mount", "--list")
	if !strings.Contains(out, filepath.Join(f.dir, "m2")) || !strings.Contains(out, "fetched") {
		t.Fatalf("mount --list:\n%s", out)
	}
	// 16 readers at random offsets get the right bytes.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fh, err := os.Open(filepath.Join(f.dir, "m1/data/train.csv"))
			if err != nil {
				errs <- err
				return
			}
			defer fh.Close()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			b := make([]byte, 4096)
			for range 100 {
				off := rng.Int64N(int64(len(f.v1) - 4096))
				if _, err := fh.ReadAt(b, off); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(b, f.v1[off:off+4096]) {
					errs <- errors.New("wrong bytes at random offset")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Writes are refused.
	if err := os.WriteFile(filepath.Join(f.dir, "m1/new.txt"), []byte("x"), 0o644); err == nil {
		t.Fatal("write to the mount succeeded")
	}
	f.run("c", "git", "lode", "umount", "../m1")
	if ents, _ := os.ReadDir(filepath.Join(f.dir, "m1")); len(ents) != 0 {
		t.Fatal("m1 not empty after umount")
	}
}

func TestMountBadArguments(t *testing.T) {
	f := newMountFixture(t)
	os.MkdirAll(filepath.Join(f.dir, "empty"), 0o755)
	os.MkdirAll(filepath.Join(f.dir, "full"), 0o755)
	os.WriteFile(filepath.Join(f.dir, "full/x"), nil, 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"no-such-rev", "../empty"}, "unknown revision"},
		{[]string{"HEAD", "../missing"}, "does not exist"},
		{[]string{"HEAD", "../full"}, "not empty"},
	} {
		out, err := f.try("c", nil, append([]string{"git", "lode", "mount"}, tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("mount %v: %v\n%s", tc.args, err, out)
		}
	}
	if out := f.run("c", "git", "lode", "mount", "--list"); strings.Contains(out, "empty") {
		t.Fatalf("something was mounted:\n%s", out)
	}
}

func TestMountFaults(t *testing.T) {
	f := newMountFixture(t)
	_, logPath := f.mount("v1", "m")
	file := filepath.Join(f.dir, "m/data/train.csv")

	// One small read at the start: that region is cached from now on (the
	// kernel reads ahead up to 1 MiB; nothing near the end is fetched, as a
	// single read does not start lode's readahead).
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	first := make([]byte, 8192)
	if _, err := fh.ReadAt(first, 0); err != nil || !bytes.Equal(first, f.v1[:8192]) {
		t.Fatalf("first read: %v", err)
	}
	// The remote goes away: uncached data fails with EIO, never hangs.
	remote := filepath.Join(f.dir, "server.git/lode")
	if err := os.Rename(remote, remote+".gone"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	done := make(chan error, 1)
	go func() { _, err := fh.ReadAt(buf, int64(len(f.v1)-5000)); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("read with the remote gone: %v, want EIO", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("read hangs with the remote gone")
	}
	// Cached data is still served.
	again := make([]byte, 4096)
	if _, err := fh.ReadAt(again, 1000); err != nil || !bytes.Equal(again, f.v1[1000:5096]) {
		t.Fatalf("cached read after the remote went away: %v", err)
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "data/train.csv") {
		t.Errorf("the failed read is not logged with its file:\n%s", log)
	}
	os.Rename(remote+".gone", remote)

	// Corrupt chunks on the remote: EIO, logged, never wrong bytes. (Every
	// object past the first MiB of each pack is damaged; the region read
	// above is cached and stays readable.)
	packs, _ := filepath.Glob(filepath.Join(remote, "packs", "*.pack"))
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		for i := 1 << 20; i < len(b); i += 4096 {
			b[i] ^= 0x20
		}
		os.Chmod(p, 0o644)
		os.WriteFile(p, b, 0o644)
	}
	if _, err := fh.ReadAt(buf, int64(len(f.v1)-4096)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read of a corrupt chunk: %v, want EIO", err)
	}
	log, _ = os.ReadFile(logPath)
	if !strings.Contains(string(log), "corrupt") || !strings.Contains(string(log), "offset") {
		t.Errorf("the corrupt chunk is not logged with file and offset:\n%s", log)
	}
}

func TestMountKilledProcess(t *testing.T) {
	f := newMountFixture(t)
	pid, _ := f.mount("v1", "m")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := os.ReadDir(filepath.Join(f.dir, "m")); err == nil {
		t.Log("the dead mount still answered (kernel cache)")
	}
	f.run("c", "git", "lode", "umount", "../m")
	if ents, err := os.ReadDir(filepath.Join(f.dir, "m")); err != nil || len(ents) != 0 {
		t.Fatalf("after umount of a dead mount: %v %v", ents, err)
	}
	// It can be mounted again.
	f.mount("v1", "m")
	if !bytes.Equal(f.read("m/data/train.csv"), f.v1) {
		t.Fatal("remount differs")
	}
}

// The Poetry-managed training job runs on mounted revisions: the same
// revision gives byte-identical model and metrics, the two revisions
// differ.
func TestTrainOnMountedRevisions(t *testing.T) {
	requireTool(t, "poetry")
	f := newMountFixture(t)
	f.mount("v1", "v1")
	f.mount("HEAD", "v2")
	f.mount("v1", "v1-again")
	outs := map[string][2][]byte{}
	for _, m := range []string{"v1", "v2", "v1-again"} {
		out := filepath.Join(f.dir, "out-"+m)
		runTrainJob(t, filepath.Join(f.dir, m, "data"), out)
		model, err := os.ReadFile(filepath.Join(out, "model.json"))
		if err != nil {
			t.Fatal(err)
		}
		metrics, err := os.ReadFile(filepath.Join(out, "metrics.json"))
		if err != nil {
			t.Fatal(err)
		}
		outs[m] = [2][]byte{model, metrics}
	}
	if !bytes.Equal(outs["v1"][0], outs["v1-again"][0]) || !bytes.Equal(outs["v1"][1], outs["v1-again"][1]) {
		t.Fatal("the same revision gave different model or metrics")
	}
	if bytes.Equal(outs["v1"][0], outs["v2"][0]) || bytes.Equal(outs["v1"][1], outs["v2"][1]) {
		t.Fatal("two different revisions gave the same model or metrics")
	}
}

// hashObject stores data as a blob in the repository repo and returns its
// id.
func (s *sandbox) hashObject(repo string, data []byte) string {
	s.t.Helper()
	out, err := s.try(repo, bytes.NewReader(data), "git", "hash-object", "-w", "--stdin")
	if err != nil {
		s.t.Fatalf("git hash-object: %v: %s", err, out)
	}
	return strings.TrimSpace(out)
}

// mktree stores a tree of entries ("MODE TYPE ID\tNAME" lines, as git
// ls-tree prints them) and returns its id. git mktree, unlike git add,
// takes any name.
func (s *sandbox) mktree(repo string, entries ...string) string {
	s.t.Helper()
	in := strings.Join(entries, "\n")
	if in != "" {
		in += "\n"
	}
	out, err := s.try(repo, strings.NewReader(in), "git", "mktree")
	if err != nil {
		s.t.Fatalf("git mktree: %v: %s", err, out)
	}
	return strings.TrimSpace(out)
}

// A commit whose tree holds a .git directory (which git add and checkout
// refuse) is mounted without it: a git command run inside the mount must
// not find that directory and run the command its config names.
func TestMountHidesDotGit(t *testing.T) {
	requireFUSE(t)
	s := newSandbox(t)
	s.run("", "git", "init", "-q", "r")
	marker := filepath.Join(s.dir, "fsmonitor-ran")
	config := s.hashObject("r", []byte("[core]\n\tfsmonitor = \"touch "+marker+"\"\n"))
	head := s.hashObject("r", []byte("ref: refs/heads/main\n"))
	empty := s.mktree("r")
	dotgit := s.mktree("r",
		"100644 blob "+config+"\tconfig",
		"100644 blob "+head+"\tHEAD",
		"040000 tree "+empty+"\tobjects",
		"040000 tree "+empty+"\trefs")
	readme := s.hashObject("r", []byte("hello\n"))
	sub := s.mktree("r",
		"040000 tree "+dotgit+"\t.GIT",
		"040000 tree "+dotgit+"\tgit~1",
		"100644 blob "+readme+"\tkeep.txt")
	root := s.mktree("r",
		"040000 tree "+dotgit+"\t.git",
		"040000 tree "+dotgit+"\t.git.",
		"100644 blob "+readme+"\tREADME.md",
		"040000 tree "+sub+"\tsub")
	commit := strings.TrimSpace(s.run("r", "git", "commit-tree", "-m", "a tree git would not check out", root))
	_, logPath := s.mount("r", commit, "m")
	mnt := filepath.Join(s.dir, "m")

	for dir, want := range map[string]string{"": ". .. README.md sub", "sub": ". .. keep.txt"} {
		out := s.run("", "ls", "-a", filepath.Join(mnt, dir))
		if got := strings.Join(strings.Fields(out), " "); got != want {
			t.Errorf("ls -a /%s: %q, want %q", dir, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(mnt, ".git/config")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat .git/config in the mount: %v, want ENOENT", err)
	}
	for _, dir := range []string{"m", "m/sub"} {
		cmd := s.cmd(dir, "git", "status")
		cmd.Env = append(slices.Clone(cmd.Env), "GIT_CEILING_DIRECTORIES="+s.dir)
		out, err := cmd.CombinedOutput()
		t.Logf("git status in %s (not a repository, so it may fail): %v\n%s", dir, err, out)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("git status in the mount ran the core.fsmonitor command of the commit's .git/config (%v)", err)
	}
	log, _ := os.ReadFile(logPath)
	for _, want := range []string{`"/.git" hidden`, `"/.git." hidden`, `"/sub/.GIT" hidden`, `"/sub/git~1" hidden`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the mount's log lacks %s:\n%s", want, log)
		}
	}
}

// git lode umount refuses a mount in use and says how to proceed; with
// --lazy it detaches it, and the mount process ends when the last file is
// closed.
func TestUmountBusy(t *testing.T) {
	requireFUSE(t)
	s := newSandbox(t)
	s.run("", "git", "init", "-q", "r")
	s.write("r/README.md", []byte("hello\n"))
	s.run("r", "git", "add", ".")
	s.run("r", "git", "commit", "-q", "-m", "one file")
	pid, _ := s.mount("r", "HEAD", "m", "--read-timeout", "7s")
	mnt := filepath.Join(s.dir, "m")
	// The background process got the flag.
	if cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline")); err != nil || !bytes.Contains(cmdline, []byte("--read-timeout\x007s")) {
		t.Errorf("mount process command line %q (%v) lacks --read-timeout 7s", cmdline, err)
	}

	f, err := os.Open(filepath.Join(mnt, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := s.try("r", nil, "git", "lode", "umount", mnt)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("umount of a busy mount: %v, want exit code 1\n%s", err, out)
	}
	if !strings.Contains(out, "busy") || !strings.Contains(out, "git lode umount --lazy "+mnt) {
		t.Errorf("umount of a busy mount does not say it is busy and how to detach it:\n%s", out)
	}
	if b := s.read("m/README.md"); string(b) != "hello\n" {
		t.Fatalf("after a refused umount: README.md = %q", b)
	}

	out = s.run("r", "git", "lode", "umount", "--lazy", mnt)
	if !strings.Contains(out, "detached") || !strings.Contains(out, "last file in it is closed") {
		t.Errorf("umount --lazy says:\n%s", out)
	}
	if ents, err := os.ReadDir(mnt); err != nil || len(ents) != 0 {
		t.Errorf("%s after umount --lazy: %v, %v; want the empty directory", mnt, ents, err)
	}
	b := make([]byte, 6)
	if _, err := f.ReadAt(b, 0); err != nil || string(b) != "hello\n" {
		t.Errorf("file open across umount --lazy: %q, %v", b, err)
	}
	f.Close()
	deadline := time.Now().Add(10 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatal("the mount process still runs 10s after the last file closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether process pid runs (and is not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// PID (COMM) STATE ...; COMM may hold spaces and parentheses.
	_, rest, _ := strings.Cut(string(b[bytes.LastIndexByte(b, ')')+1:]), " ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// A background mount keeps its log in the store and removes it when it
// is unmounted; --list names the commit it pins and whether its process
// lives; a killed mount's files go with its umount.
func TestMountHousekeeping(t *testing.T) {
	f := newMountFixture(t)
	_, log := f.mount("v1", "m")
	store := filepath.Join(f.dir, "c/.git/lode/mounts")
	if filepath.Dir(log) != store {
		t.Fatalf("mount log %s is not in the store's %s", log, store)
	}
	commit := strings.TrimSpace(f.run("c", "git", "rev-parse", "v1^{commit}"))
	list := f.run("c", "git", "lode", "mount", "--list")
	if !strings.Contains(list, "commit "+commit[:12]) || !strings.Contains(list, "alive") {
		t.Fatalf("mount --list:\n%s", list)
	}
	f.run("c", "git", "lode", "umount", "../m")
	waitGone(t, log)

	pid, log := f.mount("v1", "m")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; running(pid) && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if list := f.run("c", "git", "lode", "mount", "--list"); !strings.Contains(list, "dead") {
		t.Fatalf("mount --list after the process was killed:\n%s", list)
	}
	f.run("c", "git", "lode", "umount", "../m")
	if _, err := os.Stat(log); err == nil {
		t.Fatal("a killed mount's log stays after umount")
	}
	if ents, _ := os.ReadDir(store); len(ents) != 0 {
		t.Fatalf("left in %s: %v", store, ents)
	}

	// Inside the work tree: mounted, with a warning.
	out := f.run("c", "sh", "-c", "mkdir -p inside && git lode mount v1 inside 2>&1 && git lode umount inside")
	if !strings.Contains(out, "inside the work tree") {
		t.Fatalf("no warning for a mount inside the work tree:\n%s", out)
	}
}

func waitGone(t *testing.T, path string) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s still there after unmount", path)
}
