package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore/hostile"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/local"
	"github.com/lodevcs/lode/remote/remotetest"
)

// The hostile-remote suite: what someone who can write to the lode remote,
// or bad luck, can leave there, against the real binary and real git.
// Every test pushes from clone "a" to the embedded default remote of a
// bare repository (server.git/lode), damages that remote (or a cache) with
// package hostile, and checks that what a clone, a fetch, a mount or a
// push does afterwards is right or fails saying so.

// hostileFixture is a bare repository whose clone "a" pushed two files
// of several chunks each.
type hostileFixture struct {
	*sandbox
	ctx          context.Context
	dataA, dataB []byte
	pA, pB       pointer.Pointer
	remote       remote.Backend // server.git/lode
}

func newHostileFixture(t *testing.T) *hostileFixture {
	s := newSandbox(t)
	s.run("", "git", "lode", "install", "--global")
	s.run("", "git", "init", "-q", "--bare", "server.git")
	s.cloneWithLode("a")
	s.run("a", "git", "lode", "track", "*.bin")
	f := &hostileFixture{sandbox: s, ctx: context.Background(), dataA: genRand(900<<10, 1), dataB: genRand(900<<10, 2)}
	s.write("a/a.bin", f.dataA)
	s.write("a/b.bin", f.dataB)
	s.run("a", "git", "add", ".")
	s.run("a", "git", "commit", "-q", "-m", "v1")
	s.run("a", "git", "push", "-q", "origin", "main")
	f.pA, f.pB = f.pointer("a", "a.bin"), f.pointer("a", "b.bin")
	if f.pA.Manifest.IsZero() || f.pB.Manifest.IsZero() {
		t.Fatal("test files should have several chunks")
	}
	b, err := local.New(filepath.Join(s.dir, "server.git/lode"), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.remote = b
	return f
}

// pointer returns the pointer git holds for path at HEAD of repo.
func (f *hostileFixture) pointer(repo, path string) pointer.Pointer {
	f.t.Helper()
	p, err := pointer.Parse([]byte(f.run(repo, "git", "cat-file", "blob", "HEAD:"+path)))
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// localManifest reads p's chunk list from clone repo's store.
func (f *hostileFixture) localManifest(repo string, p pointer.Pointer) *manifest.Manifest {
	f.t.Helper()
	st, err := store.Open(filepath.Join(f.dir, repo, ".git/lode"), store.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer st.Close()
	m, err := filer.Manifest(f.ctx, st, p)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// packs returns the ids of the remote's indexed packs and each one's index.
func (f *hostileFixture) indexes() map[cas.ID]*pack.Index {
	f.t.Helper()
	ids, err := hostile.Packs(f.ctx, f.remote)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[cas.ID]*pack.Index{}
	for _, id := range ids {
		b, err := hostile.Get(f.ctx, f.remote, hostile.IndexName(id))
		if err != nil {
			f.t.Fatal(err)
		}
		ix, err := pack.ParseIndex(b)
		if err != nil {
			f.t.Fatal(err)
		}
		out[id] = ix
	}
	return out
}

// backup copies the remote's packs directory aside; restore puts it back.
func (f *hostileFixture) backup() (restore func()) {
	f.t.Helper()
	dir := filepath.Join(f.dir, "server.git/lode/packs")
	saved := dir + ".saved"
	f.run("", "cp", "-r", dir, saved)
	return func() {
		f.run("", "rm", "-rf", dir)
		f.run("", "cp", "-r", saved, dir)
	}
}

// A manifest listing valid chunks of other content under a file's id: the
// clone, a fetch and the mount refuse it; nothing of it is kept; once the
// remote is repaired, everything works.
func TestHostileForgedManifest(t *testing.T) {
	f := newHostileFixture(t)
	restore := f.backup()
	mB := f.localManifest("a", f.pB)
	// Hide the real manifest of a.bin (indexes rewritten without its
	// record), and upload the forgery under its id.
	for id, ix := range f.indexes() {
		if _, ok, _ := ix.Lookup(f.pA.Manifest); ok {
			if _, err := hostile.RewriteIndex(f.ctx, f.remote, id, func(es []pack.Entry) []pack.Entry {
				var out []pack.Entry
				for _, e := range es {
					if e.ID != f.pA.Manifest {
						out = append(out, e)
					}
				}
				return out
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := hostile.ForgeManifest(f.ctx, f.remote, f.pA, mB); err != nil {
		t.Fatal(err)
	}

	// A clone: a.bin is refused, b.bin comes out right.
	out, err := f.try("", nil, "git", "clone", "-q", "server.git", "c")
	if err == nil {
		t.Fatalf("clone with a forged manifest succeeded:\n%s", out)
	}
	if !strings.Contains(out, "a.bin") {
		t.Fatalf("clone error does not name a.bin:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(f.dir, "c/a.bin")); err == nil && bytes.Equal(b, f.dataB) {
		t.Fatal("a.bin was checked out with b.bin's content")
	}

	// A pointers-only clone: fetch fails, keeps nothing of a.bin.
	f.env = append(f.env, "GIT_LODE_SKIP_SMUDGE=1")
	f.run("", "git", "clone", "-q", "server.git", "d")
	f.env = f.env[:len(f.env)-1]
	f.run("d", "git", "lode", "install")
	out, err = f.try("d", nil, "git", "lode", "fetch")
	if err == nil || !strings.Contains(out, "corrupt") && !strings.Contains(out, "does not hash") {
		t.Fatalf("fetch with a forged manifest: %v\n%s", err, out)
	}
	if ls := f.run("d", "git", "lode", "ls-files"); !strings.Contains(ls, "a.bin") || strings.Contains(lineOf(ls, "a.bin"), "*") {
		t.Fatalf("a.bin shows as local after a refused fetch:\n%s", ls)
	}

	// The mount: a.bin reads as EIO, even a full sequential cat; b.bin
	// reads right.
	if _, err := os.Stat("/dev/fuse"); err == nil {
		f.mount("d", "HEAD", "m")
		if b, err := os.ReadFile(filepath.Join(f.dir, "m/b.bin")); err != nil || !bytes.Equal(b, f.dataB) {
			t.Fatalf("b.bin through the mount: %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(f.dir, "m/a.bin")); err == nil {
			t.Fatalf("a.bin through the mount gave %d bytes (b.bin's: %v); want EIO", len(b), bytes.Equal(b, f.dataB))
		} else if !errorsIsErrno(err, syscall.EIO) {
			t.Fatalf("a.bin through the mount: %v, want EIO", err)
		}
	}

	// Repaired remote (the forgery may stay): fetch and checkout work.
	restore()
	f.run("d", "git", "lode", "fetch")
	f.run("d", "git", "lode", "pull")
	if !bytes.Equal(f.read("d/a.bin"), f.dataA) || !bytes.Equal(f.read("d/b.bin"), f.dataB) {
		t.Fatal("files differ after the remote was repaired")
	}
	if _, err := hostile.ForgeManifest(f.ctx, f.remote, f.pA, mB); err != nil {
		t.Fatal(err)
	}
	f.run("", "git", "clone", "-q", "server.git", "e")
	if !bytes.Equal(f.read("e/a.bin"), f.dataA) {
		t.Fatal("a clone next to a forged copy got the wrong bytes")
	}
}

func lineOf(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func errorsIsErrno(err error, errno syscall.Errno) bool {
	for err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return e == errno
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// Copies of the remote's indexes kept in .git/lode/remotes are checked
// before use: with damaged offsets in them, a push still leaves a remote
// that a clone can read.
func TestHostileDamagedCachedIndex(t *testing.T) {
	f := newHostileFixture(t)
	cached, _ := filepath.Glob(filepath.Join(f.dir, "a/.git/lode/remotes/*/*.idx"))
	if len(cached) == 0 {
		t.Fatal("no cached indexes after a push")
	}
	for _, p := range cached {
		b, _ := os.ReadFile(p)
		if len(b) > 16+2*pack.RecordSize {
			// Swap the offsets of the first two records.
			r0, r1 := b[16+32:16+40], b[16+pack.RecordSize+32:16+pack.RecordSize+40]
			o0, o1 := binary.BigEndian.Uint64(r0), binary.BigEndian.Uint64(r1)
			binary.BigEndian.PutUint64(r0, o1)
			binary.BigEndian.PutUint64(r1, o0)
		}
		os.Chmod(p, 0o644)
		os.WriteFile(p, b, 0o644)
	}
	// v2 shares most chunks with v1.
	v2 := append(bytes.Clone(f.dataA), genRand(100<<10, 3)...)
	f.write("a/a.bin", v2)
	f.run("a", "git", "commit", "-q", "-am", "v2")
	f.run("a", "git", "push", "-q", "origin", "main")
	f.run("", "git", "clone", "-q", "server.git", "c")
	if !bytes.Equal(f.read("c/a.bin"), v2) {
		t.Fatal("a.bin differs in a clone")
	}
}

// An index on the remote whose pack is missing, or has the wrong size, is
// not trusted: a push uploads the data again, and a clone works.
func TestHostileIndexWithoutPack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string)
	}{
		{"missing pack", func(p string) { os.Remove(p) }},
		{"truncated pack", func(p string) { os.Truncate(p, 100) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHostileFixture(t)
			packs, _ := filepath.Glob(filepath.Join(f.dir, "server.git/lode/packs/*.pack"))
			for _, p := range packs {
				os.Chmod(p, 0o644)
				tc.damage(p)
			}
			// A new commit, whose tip still names a.bin and b.bin.
			f.write("a/c.bin", genRand(50<<10, 6))
			f.run("a", "git", "add", "c.bin")
			f.run("a", "git", "commit", "-q", "-m", "c")
			out := f.run("a", "git", "push", "origin", "main")
			if !strings.Contains(out, "pushed 3 file(s)") {
				t.Fatalf("push after the packs were lost:\n%s", out)
			}
			if !strings.Contains(out, "warning") {
				t.Fatalf("push does not report the indexes it did not use:\n%s", out)
			}
			f.run("", "git", "clone", "-q", "server.git", "c")
			if !bytes.Equal(f.read("c/a.bin"), f.dataA) || !bytes.Equal(f.read("c/b.bin"), f.dataB) {
				t.Fatal("clone differs")
			}
		})
	}
}

// A damaged index on the remote blocks nobody: a fresh clone with no
// cached copy pushes new data (with a warning), and clones work.
func TestHostileDamagedRemoteIndex(t *testing.T) {
	f := newHostileFixture(t)
	idx, _ := filepath.Glob(filepath.Join(f.dir, "server.git/lode/packs/*.idx"))
	for _, p := range idx {
		b, _ := os.ReadFile(p)
		b[30] ^= 0x01
		os.Chmod(p, 0o644)
		os.WriteFile(p, b, 0o644)
	}
	// A clone without data (its checkout would need the remote) adds a
	// file and pushes.
	f.env = append(f.env, "GIT_LODE_SKIP_SMUDGE=1")
	f.run("", "git", "clone", "-q", "server.git", "b")
	f.env = f.env[:len(f.env)-1]
	f.write("b/new.bin", genRand(300<<10, 4))
	f.run("b", "git", "add", "new.bin")
	f.run("b", "git", "commit", "-q", "-m", "new")
	out, err := f.try("b", nil, "git", "push", "origin", "main")
	// b's tip also names a.bin and b.bin, whose data b lacks and the
	// remote no longer shows intact: the push must refuse rather than
	// leave a commit that a clone cannot check out, and say why.
	if err == nil {
		t.Fatalf("push succeeded though the remote's data for the tip is unreadable:\n%s", out)
	}
	if !strings.Contains(out, "warning") || !strings.Contains(out, "not in the local store") {
		t.Fatalf("push output:\n%s", out)
	}
	// a holds good copies of those indexes: verify --remote finds the
	// damage and names the fix, push --repair uploads them again; then
	// b's push goes through.
	out, err = f.try("a", nil, "git", "lode", "verify", "--remote")
	if err == nil || !strings.Contains(out, "damaged on the remote") || !strings.Contains(out, "push --repair") {
		t.Fatalf("verify --remote over damaged indexes: %v\n%s", err, out)
	}
	out = f.run("a", "git", "lode", "push", "--repair")
	if !strings.Contains(out, "uploaded again") {
		t.Fatalf("push --repair:\n%s", out)
	}
	f.run("b", "git", "push", "-q", "origin", "main")
	f.run("", "git", "clone", "-q", "server.git", "c")
	if !bytes.Equal(f.read("c/a.bin"), f.dataA) {
		t.Fatal("clone differs")
	}
}

// After [remote] url changes, a push uploads what the tips need, not only
// what the new commits add.
func TestHostileChangedRemoteURL(t *testing.T) {
	f := newHostileFixture(t)
	f.write("a/.lode.toml", []byte("[remote]\nurl = \"../other-store\"\n"))
	f.run("a", "git", "add", ".lode.toml")
	f.run("a", "git", "commit", "-q", "-m", "move the data")
	out := f.run("a", "git", "push", "origin", "main")
	if !strings.Contains(out, "other-store") {
		t.Fatalf("push did not go to the new remote:\n%s", out)
	}
	f.run("", "rm", "-rf", "server.git/lode") // the old remote is gone
	f.run("", "git", "clone", "-q", "server.git", "c")
	if !bytes.Equal(f.read("c/a.bin"), f.dataA) || !bytes.Equal(f.read("c/b.bin"), f.dataB) {
		t.Fatal("clone differs")
	}
}

// A chunk record of 1 GiB (the format allows 128 KiB) and a located
// manifest naming it: verify --remote and fetch fail saying so, with
// bounded memory.
func TestHostileOversizeChunks(t *testing.T) {
	f := newHostileFixture(t)
	// A lode/1 pointer to a 1 GiB file whose only chunk is 1 GiB: the
	// located manifest (layout 1) and the pack say so.
	const size = 1 << 30
	oid := cas.Sum([]byte("a file of one 1 GiB chunk"))
	packDir := filepath.Join(f.dir, "server.git/lode/packs")
	var h [pack.EntryHeaderSize]byte
	copy(h[:32], oid[:])
	h[32] = byte(cas.KindChunk)
	binary.BigEndian.PutUint32(h[36:40], size)
	binary.BigEndian.PutUint32(h[40:44], size)
	e := pack.Entry{ID: oid, Kind: cas.KindChunk, Offset: pack.HeaderSize, RawLen: size, StoredLen: size}
	packSize := int64(pack.HeaderSize + pack.EntryHeaderSize + size)
	idx := pack.EncodeIndex([]pack.Entry{e}, packSize)
	var pid cas.ID
	copy(pid[:], idx[len(idx)-32:])
	pf, err := os.Create(filepath.Join(packDir, pid.String()+".pack"))
	if err != nil {
		t.Fatal(err)
	}
	pf.Write([]byte("LODEPACK\x00\x00\x00\x01\x00\x00\x00\x00"))
	pf.Write(h[:])
	pf.Truncate(packSize) // sparse
	pf.Close()
	os.WriteFile(filepath.Join(packDir, pid.String()+".idx"), idx, 0o644)
	l := &manifest.Located{Manifest: manifest.Manifest{OID: oid, Size: size, Chunks: []manifest.Chunk{{ID: oid, Len: size}}},
		Locs: []manifest.Location{{Pack: pid, Offset: pack.HeaderSize, StoredLen: size}}}
	os.MkdirAll(filepath.Join(f.dir, "server.git/lode/manifests"), 0o755)
	os.WriteFile(filepath.Join(f.dir, "server.git/lode/manifests", oid.String()), l.Encode(), 0o644)
	ptr := pointer.Pointer{OID: oid, Size: size, V1: true}
	f.write("a/huge.bin", ptr.Encode())
	// Commit the pointer as it is (clean leaves pointers alone).
	f.run("a", "git", "add", "huge.bin")
	f.run("a", "git", "commit", "-q", "-m", "huge")
	f.run("a", "git", "push", "-q", "--no-verify", "origin", "main")

	f.env = append(f.env, "GIT_LODE_SKIP_SMUDGE=1")
	f.run("", "git", "clone", "-q", "server.git", "c")
	f.env = f.env[:len(f.env)-1]
	for _, args := range [][]string{
		{"git", "lode", "verify", "--remote"},
		{"git", "lode", "fetch", "--include", "huge.bin"},
	} {
		cmd := f.cmd("c", args...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("%s succeeded against an oversize chunk:\n%s", strings.Join(args, " "), out)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
		t.Logf("%s: %v, peak RSS %d MiB, %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), rss>>20, bytes.TrimSpace(out))
		// The format's bound keeps lode under 200 MiB (about 40 MiB
		// measured); the race detector's shadow memory multiplies that,
		// and an unbounded read of the 1 GiB chunk would still be far
		// over either limit.
		limit := int64(200 << 20)
		if raceEnabled {
			limit = 700 << 20
		}
		if rss > limit {
			t.Fatalf("%s used %d MiB of memory against an oversize chunk (limit %d MiB)", strings.Join(args, " "), rss>>20, limit>>20)
		}
		if !strings.Contains(string(out), "huge.bin") && !strings.Contains(string(out), oid.Short()) {
			t.Fatalf("%s does not name the file:\n%s", strings.Join(args, " "), out)
		}
	}
}

// Damage in the local store is repaired from the remote by checkout,
// fetch and the mount; damage on the remote is repaired from a clone that
// has the data by push --repair, which verify --remote names.
func TestHostileRepair(t *testing.T) {
	f := newHostileFixture(t)
	f.run("", "git", "clone", "-q", "server.git", "b")
	damage := func(glob string) {
		paths, _ := filepath.Glob(filepath.Join(f.dir, glob))
		if len(paths) == 0 {
			t.Fatalf("nothing matches %s", glob)
		}
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			for i := 4096; i < len(b); i += 64 << 10 {
				b[i] ^= 0x10
			}
			os.Chmod(p, 0o644)
			os.WriteFile(p, b, 0o644)
		}
	}

	// Local damage, remote intact: checkout repairs.
	damage("b/.git/lode/packs/*.pack")
	f.run("b", "rm", "a.bin", "b.bin")
	f.run("b", "git", "checkout", "--", ".")
	if !bytes.Equal(f.read("b/a.bin"), f.dataA) || !bytes.Equal(f.read("b/b.bin"), f.dataB) {
		t.Fatal("checkout did not repair")
	}
	if out := f.run("b", "git", "lode", "verify"); !strings.Contains(out, "verify OK") {
		t.Fatalf("verify after checkout repaired the store:\n%s", out)
	}
	// Again, repaired by fetch (which used to say "already there").
	damage("b/.git/lode/packs/*.pack")
	f.run("b", "git", "lode", "fetch")
	if out := f.run("b", "git", "lode", "verify"); !strings.Contains(out, "verify OK") {
		t.Fatalf("verify after fetch:\n%s", out)
	}
	// And by the mount.
	if _, err := os.Stat("/dev/fuse"); err == nil {
		damage("b/.git/lode/packs/*.pack")
		f.mount("b", "HEAD", "m")
		if got, err := os.ReadFile(filepath.Join(f.dir, "m/a.bin")); err != nil || !bytes.Equal(got, f.dataA) {
			t.Fatalf("mount over a damaged store: %v", err)
		}
	}

	// Remote damage, a clone has the data: verify --remote names the
	// fix, push --repair applies it.
	damage("server.git/lode/packs/*.pack")
	out, err := f.try("a", nil, "git", "lode", "verify", "--remote")
	if err == nil || !strings.Contains(out, "push --repair") {
		t.Fatalf("verify --remote of a damaged remote: %v\n%s", err, out)
	}
	if out := f.run("a", "git", "lode", "push"); !strings.Contains(out, "nothing to push") && !strings.Contains(out, "already there") {
		t.Logf("plain push: %s", out)
	}
	out = f.run("a", "git", "lode", "push", "--repair")
	if !strings.Contains(out, "uploaded again") {
		t.Fatalf("push --repair:\n%s", out)
	}
	if out := f.run("a", "git", "lode", "verify", "--remote"); !strings.Contains(out, "verify --remote OK") {
		t.Fatalf("verify --remote after repair:\n%s", out)
	}
	f.run("", "git", "clone", "-q", "server.git", "c")
	if !bytes.Equal(f.read("c/a.bin"), f.dataA) || !bytes.Equal(f.read("c/b.bin"), f.dataB) {
		t.Fatal("clone after repair differs")
	}
}

// Upload packs of a killed push and temporary packs of a killed add are
// removed by the next push once they are old, and left alone while young.
func TestHostileLeftoversCleaned(t *testing.T) {
	f := newHostileFixture(t)
	tmp := filepath.Join(f.dir, "a/.git/lode/tmp")
	old := time.Now().Add(-48 * time.Hour)
	for _, name := range []string{"upload-1.pack", "pack-2.tmp"} {
		p := filepath.Join(tmp, name)
		os.WriteFile(p, []byte("left by a killed process"), 0o644)
		os.Chtimes(p, old, old)
	}
	young := filepath.Join(tmp, "pack-3.tmp")
	os.WriteFile(young, []byte("being written"), 0o644)
	f.write("a/c.bin", genRand(100<<10, 5))
	f.run("a", "git", "add", "c.bin")
	f.run("a", "git", "commit", "-q", "-m", "c")
	f.run("a", "git", "push", "-q", "origin", "main")
	for _, name := range []string{"upload-1.pack", "pack-2.tmp"} {
		if _, err := os.Stat(filepath.Join(tmp, name)); err == nil {
			t.Errorf("%s is still there after a push", name)
		}
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a young temporary file was removed: %v", err)
	}
	// verify --fix does the same.
	os.Chtimes(young, old, old)
	if out := f.run("a", "git", "lode", "verify", "--fix"); !strings.Contains(out, "removed leftover") {
		t.Fatalf("verify --fix:\n%s", out)
	}
	if _, err := os.Stat(young); err == nil {
		t.Error("verify --fix left an old temporary file")
	}
}

// A lode remote that accepts connections and never answers, or drips its
// bodies at a byte a second: a clone fails in bounded time, naming the
// remote, instead of waiting forever.
func TestHostileSlowRemotes(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  func(t *testing.T) *remotetest.HostileServer
	}{
		{"silent", func(t *testing.T) *remotetest.HostileServer { return remotetest.NewSilentServer(t) }},
		{"drip", func(t *testing.T) *remotetest.HostileServer {
			return remotetest.NewDripServer(t, bytes.Repeat([]byte("x"), 1<<20), time.Second)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newHostileFixture(t)
			srv := tc.srv(t)
			f.env = append(f.env, "LODE_REMOTE_URL="+srv.URL+"/store")
			start := time.Now()
			out, err := f.try("", nil, "git", "clone", "-q", "server.git", "c")
			took := time.Since(start)
			t.Logf("clone against a %s remote failed after %v: %s", tc.name, took.Round(time.Millisecond), lineOf(out, "127.0.0.1"))
			if err == nil {
				t.Fatalf("clone against a %s remote succeeded:\n%s", tc.name, out)
			}
			if took > 90*time.Second {
				t.Fatalf("clone against a %s remote took %v to fail", tc.name, took)
			}
			if !strings.Contains(out, srv.Addr) {
				t.Fatalf("the error does not name the remote %s:\n%s", srv.Addr, out)
			}
		})
	}
}
