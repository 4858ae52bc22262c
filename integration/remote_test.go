package integration

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// remoteBytes sums the sizes of the files under dir.
func remoteBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// cloneWithLode clones server.git into name, with lode configured
// globally in the sandbox.
func (s *sandbox) cloneWithLode(name string) {
	s.t.Helper()
	s.run("", "git", "clone", "-q", "server.git", name)
	s.run(name, "git", "lode", "install")
}

// Two clones pushing to the same remote at once both succeed, and a third
// clone gets both sides' data.
func TestConcurrentPushes(t *testing.T) {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("seed")
	s.run("seed", "git", "lode", "track", "*.csv")
	s.run("seed", "git", "add", ".gitattributes")
	s.run("seed", "git", "commit", "-q", "-m", "attributes")
	s.run("seed", "git", "push", "-q", "origin", "main")

	shared := genCSV(40000, 1)
	for i, name := range []string{"a", "b"} {
		s.cloneWithLode(name)
		s.write(name+"/data.csv", append(bytes.Clone(shared), genCSV(4000, uint64(10+i))...))
		s.write(name+"/own.csv", genCSV(3000, uint64(20+i)))
		s.run(name, "git", "checkout", "-q", "-b", "side-"+name)
		s.run(name, "git", "add", ".")
		s.run(name, "git", "commit", "-q", "-m", "data "+name)
	}
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = s.try(name, nil, "git", "push", "-q", "origin", "side-"+name)
		}()
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("push %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	for _, name := range []string{"a", "b"} {
		s.run("", "git", "clone", "-q", "-b", "side-"+name, "server.git", "check-"+name)
		if !bytes.Equal(s.read("check-"+name+"/data.csv"), s.read(name+"/data.csv")) {
			t.Fatalf("clone of side-%s differs", name)
		}
		out := s.run("check-"+name, "git", "lode", "verify", "--remote")
		if !strings.Contains(out, "verify --remote OK") {
			t.Fatal(out)
		}
	}
}

// A push killed while uploading, run again, completes; what the first
// attempt uploaded is reused, so the remote holds at most one extra pack.
func TestKilledPushResumes(t *testing.T) {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.bin")
	// Small packs, so that a small file spans several.
	s.env = append(s.env, "LODE_PACK_SIZE=1048576")
	const size = 12 << 20
	data := genRand(size, 42)
	s.write("a/big.bin", data)
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "big")

	cmd := s.cmd("a", "git", "push", "-q", "origin", "main")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that the kill below reaches its hook and
	// nothing else on the machine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill git and git-lode as soon as the first pack is on the remote
	// whole: its index, uploaded after it, is there.
	packs := filepath.Join(s.dir, "server.git/lode/packs")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if idx, _ := filepath.Glob(filepath.Join(packs, "*.idx")); len(idx) > 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the push: %v", err)
	}
	cmd.Wait()
	if _, err := s.try("server.git", nil, "git", "rev-parse", "--verify", "-q", "main"); err == nil {
		t.Fatalf("the killed push reached git:\n%s", out.String())
	}
	partial := remoteBytes(t, filepath.Join(s.dir, "server.git/lode"))

	s.run("a", "git", "push", "-q", "origin", "main")
	total := remoteBytes(t, filepath.Join(s.dir, "server.git/lode"))
	t.Logf("remote after the killed push: %d bytes; after the second: %d (data %d)", partial, total, size)
	if total > size+size/100+(1<<20)+(256<<10) {
		t.Fatalf("remote holds %d bytes for %d of data: more than one pack duplicated", total, size)
	}
	s.run("", "git", "clone", "-q", "server.git", "b")
	if !bytes.Equal(s.read("b/big.bin"), data) {
		t.Fatal("clone differs")
	}
}

// A clone's checkout asks git to delay the files whose data must be
// downloaded, and fetches them in the background, in parallel.
func TestCloneDelaysDownloads(t *testing.T) {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.bin")
	for i := range 6 {
		s.write(fmt.Sprintf("a/f%d.bin", i), genRand(300<<10, uint64(i)))
	}
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "files")
	s.run("a", "git", "push", "-q", "origin", "main")

	trace := filepath.Join(s.dir, "packets.log")
	s.env = append(s.env, "GIT_TRACE_PACKET="+trace)
	s.run("", "git", "clone", "-q", "server.git", "b")
	log, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "status=delayed"); n != 6 {
		t.Fatalf("%d files delayed, want 6", n)
	}
	for i := range 6 {
		name := fmt.Sprintf("f%d.bin", i)
		if !bytes.Equal(s.read("b/"+name), s.read("a/"+name)) {
			t.Fatalf("%s differs", name)
		}
	}
}
