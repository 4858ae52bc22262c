package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A repository that kept its data in Git LFS and then moved to lode (no
// history rewrite): mounting and serving a revision of the Git LFS era
// gives the files byte-identical to what git-lfs checks out, read from Git
// LFS's store and checked against their SHA-256; a damaged object is EIO
// on the mount (logged with path and oid) and 500 on the server, never
// wrong bytes; a missing one fails with what to run, while listings still
// show its size.
func TestMountAndServeLFSHistory(t *testing.T) {
	requireTool(t, "git-lfs")
	requireFUSE(t)
	s := newSandbox(t)
	s.run("", "git", "init", "-q", "repo")
	s.run("repo", "git", "lfs", "install", "--local")
	s.run("repo", "git", "lfs", "track", "*.bin", "*.csv")
	model := genRand(3<<20+5, 1)
	s.write("repo/model.bin", model)
	s.write("repo/data/table.csv", genCSV(5000, 2))
	s.write("repo/README", []byte("a project\n"))
	s.run("repo", "git", "add", "-A")
	s.run("repo", "git", "commit", "-q", "-m", "Git LFS era")
	s.run("repo", "git", "tag", "lfs-era")
	lfsCommit := strings.TrimSpace(s.run("repo", "git", "rev-parse", "lfs-era"))
	if blob := s.run("repo", "git", "cat-file", "-p", "lfs-era:model.bin"); !strings.HasPrefix(blob, "version https://git-lfs.github.com/spec/v1") {
		t.Fatalf("model.bin is not a Git LFS pointer in git:\n%s", blob)
	}
	want := checkedOut(s, "repo", []string{lfsCommit})[lfsCommit] // as git-lfs checks it out

	// The move to lode: new commits hold lode pointers.
	s.run("repo", "git", "lode", "install", "--local")
	s.run("repo", "git", "lode", "track", "*.bin", "*.csv")
	model2 := genRand(1<<20, 3)
	s.write("repo/model.bin", model2)
	s.run("repo", "git", "add", "-A")
	s.run("repo", "git", "commit", "-q", "-m", "lode era")
	if blob := s.run("repo", "git", "cat-file", "-p", "HEAD:model.bin"); !strings.HasPrefix(blob, "version lode") {
		t.Fatalf("model.bin is not a lode pointer in the new commit:\n%s", blob)
	}

	sha := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	s.mount("repo", "lfs-era", "m")
	m := filepath.Join(s.dir, "m")
	for path, sum := range want {
		b, err := os.ReadFile(filepath.Join(m, path))
		if err != nil || sha(b) != sum {
			t.Errorf("mount: %s: %d bytes, %v; not what git-lfs checks out", path, len(b), err)
		}
	}
	if len(want) < 3 {
		t.Fatalf("checkout of the Git LFS era has %d files", len(want))
	}

	srv := s.serve("repo", "--addr", "127.0.0.1:0")
	for path, sum := range want {
		resp, b := srv.get("/lfs-era/" + path)
		if resp.StatusCode != 200 || sha(b) != sum {
			t.Errorf("serve: %s: %d, %d bytes; not what git-lfs checks out", path, resp.StatusCode, len(b))
		}
	}
	resp, _ := srv.get("/lfs-era/model.bin")
	if et := resp.Header.Get("ETag"); et != `"sha256:`+sha(model)+`"` {
		t.Errorf("ETag %s, want the Git LFS oid", et)
	}
	_, b := srv.get("/lfs-era/")
	var l struct {
		Entries []struct {
			Name, OID, Foreign string
			Size               int64
		}
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("listing: %v: %s", err, b)
	}
	found := false
	for _, e := range l.Entries {
		if e.Name == "model.bin" {
			found = e.Size == int64(len(model)) && e.Foreign == "git-lfs" && e.OID == "sha256:"+sha(model)
		}
	}
	if !found {
		t.Errorf("listing of the Git LFS era: %s", b)
	}
	if resp, b := srv.get("/main/model.bin"); resp.StatusCode != 200 || sha(b) != sha(model2) {
		t.Errorf("serve: main:model.bin: %d, %d bytes", resp.StatusCode, len(b))
	}

	// A damaged object (same size, other bytes): EIO on a new mount, 500
	// on the server that read it before; nothing of it is handed out.
	tableOID := want["data/table.csv"]
	obj := filepath.Join(s.dir, "repo/.git/lfs/objects", tableOID[0:2], tableOID[2:4], tableOID)
	good, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 1
	os.Chmod(obj, 0o644)
	if err := os.WriteFile(obj, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, log2 := s.mount("repo", "lfs-era", "m2")
	if b, err := os.ReadFile(filepath.Join(s.dir, "m2/data/table.csv")); !errors.Is(err, syscall.EIO) {
		t.Errorf("mount: read of a damaged Git LFS object: %d bytes, %v; want EIO", len(b), err)
	}
	if log, _ := os.ReadFile(log2); !strings.Contains(string(log), "/data/table.csv") || !strings.Contains(string(log), "sha256:"+tableOID) || !strings.Contains(string(log), "corrupt") {
		t.Errorf("mount log does not name the damaged object's path and oid:\n%s", log)
	}
	if resp, b := srv.get("/lfs-era/data/table.csv"); resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(b), "id,") {
		t.Errorf("serve: damaged Git LFS object: %d %q; want 500", resp.StatusCode, b)
	}

	// A missing object: the listing still shows its size; reading says
	// what to run.
	modelObj := filepath.Join(s.dir, "repo/.git/lfs/objects", want["model.bin"][0:2], want["model.bin"][2:4], want["model.bin"])
	if err := os.Remove(modelObj); err != nil {
		t.Fatal(err)
	}
	_, log3 := s.mount("repo", "lfs-era", "m3")
	if fi, err := os.Stat(filepath.Join(s.dir, "m3/model.bin")); err != nil || fi.Size() != int64(len(model)) {
		t.Errorf("stat of a file whose Git LFS object is missing: %v, %v", fi, err)
	}
	if _, err := os.ReadFile(filepath.Join(s.dir, "m3/model.bin")); !errors.Is(err, syscall.EIO) {
		t.Errorf("mount: read of a missing Git LFS object: %v, want EIO", err)
	}
	if log, _ := os.ReadFile(log3); !strings.Contains(string(log), "/model.bin") || !strings.Contains(string(log), "git lfs fetch") {
		t.Errorf("mount log does not say to run git lfs fetch:\n%s", log)
	}
	if resp, b := srv.get("/lfs-era/model.bin"); resp.StatusCode == 200 || !strings.Contains(string(b), "git lfs fetch") {
		t.Errorf("serve: missing Git LFS object: %d %q", resp.StatusCode, b)
	}
}
