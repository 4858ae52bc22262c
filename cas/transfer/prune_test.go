package transfer

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
	"github.com/lodevcs/lode/remote/remotetest"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// pruneAt runs a remote prune of b at now, keeping what ptrs need (their
// chunk lists read from st, or the remote).
func pruneAt(t *testing.T, st *store.Store, b remote.Backend, ptrs []pointer.Pointer, now time.Time, opts PruneRemoteOptions) PruneRemoteStats {
	t.Helper()
	ctx := context.Background()
	r := newRemote(t, b)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	live, err := RemoteLive(ctx, st, r, ptrs)
	if err != nil {
		t.Fatal(err)
	}
	opts.Now = func() time.Time { return now }
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	ps, err := PruneRemote(ctx, r, func(id cas.ID) bool { _, ok := live[id]; return ok }, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func mustPush(t *testing.T, st *store.Store, b remote.Backend, ptrs ...pointer.Pointer) Stats {
	t.Helper()
	ps, err := Push(context.Background(), st, newRemote(t, b), ptrs, Options{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// fetchErr fetches ptrs from b into a fresh store and checks what arrives.
func fetchErr(t *testing.T, b remote.Backend, want map[pointer.Pointer][]byte) error {
	t.Helper()
	dst := newStore(t)
	var ptrs []pointer.Pointer
	for p := range want {
		ptrs = append(ptrs, p)
	}
	if _, err := Fetch(context.Background(), dst, newRemote(t, b), ptrs, Options{}); err != nil {
		return err
	}
	for p, data := range want {
		if got := read(t, dst, p); string(got) != string(data) {
			t.Fatalf("fetched %s differs", p.OID.Short())
		}
	}
	return nil
}

func remoteHas(t *testing.T, b remote.Backend, p pointer.Pointer) bool {
	t.Helper()
	r := newRemote(t, b)
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r.Has(p.Manifest)
}

func TestPruneRemoteCondemnsThenDeletes(t *testing.T) {
	s := newStore(t)
	b := mem.New()
	oldData, newData := csvData(1, 40000), csvData(2, 40000)
	old, cur := add(t, s, oldData), add(t, s, newData)
	mustPush(t, s, b, old)
	mustPush(t, s, b, cur)

	// Dry run: says what it would do, changes nothing.
	dry := pruneAt(t, s, b, []pointer.Pointer{cur}, t0, PruneRemoteOptions{Grace: time.Hour, DryRun: true})
	if dry.Condemned == 0 || !remoteHas(t, b, old) {
		t.Fatalf("dry run: %+v; old file still whole: %v", dry, remoteHas(t, b, old))
	}
	if r := newRemote(t, b); r.Sync(context.Background()) != nil || len(r.Condemned()) != 0 {
		t.Fatal("dry run wrote the condemned record")
	}

	ps := pruneAt(t, s, b, []pointer.Pointer{cur}, t0, PruneRemoteOptions{Grace: time.Hour})
	if ps.Condemned == 0 || ps.Deleted != 0 || ps.BytesCondemned == 0 {
		t.Fatalf("first prune: %+v; want packs condemned, none deleted", ps)
	}
	// Condemned packs are still read, but a push does not rely on them.
	if remoteHas(t, b, old) {
		t.Fatal("Has counts a condemned pack")
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{old: oldData, cur: newData}); err != nil {
		t.Fatalf("a condemned pack is no longer read: %v", err)
	}
	// Before the grace has passed nothing goes.
	ps = pruneAt(t, s, b, []pointer.Pointer{cur}, t0.Add(59*time.Minute), PruneRemoteOptions{Grace: time.Hour})
	if ps.Deleted != 0 || ps.Waiting == 0 {
		t.Fatalf("prune within the grace: %+v", ps)
	}
	ps = pruneAt(t, s, b, []pointer.Pointer{cur}, t0.Add(2*time.Hour), PruneRemoteOptions{Grace: time.Hour})
	if ps.Deleted == 0 || ps.BytesFreed == 0 || ps.Waiting != 0 {
		t.Fatalf("prune after the grace: %+v", ps)
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{cur: newData}); err != nil {
		t.Fatalf("kept file: %v", err)
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{old: oldData}); err == nil {
		t.Fatal("pruned file still fetches")
	}
	if r := newRemote(t, b); r.Sync(context.Background()) != nil || len(r.Condemned()) != 0 {
		t.Fatalf("deleted packs stay in the condemned record: %v", r.Condemned())
	}
}

// A push that looked at the remote before a prune condemned a pack may
// rely on it; once its commit is in the kept history, the next prune
// finds the pack needed and revives it.
func TestPruneRemoteRevivesWhatBecameNeeded(t *testing.T) {
	s := newStore(t)
	b := mem.New()
	data := csvData(3, 40000)
	p := add(t, s, data)
	mustPush(t, s, b, p)
	if ps := pruneAt(t, s, b, nil, t0, PruneRemoteOptions{Grace: time.Hour}); ps.Condemned == 0 {
		t.Fatalf("%+v", ps)
	}
	ps := pruneAt(t, s, b, []pointer.Pointer{p}, t0.Add(2*time.Hour), PruneRemoteOptions{Grace: time.Hour})
	if ps.Revived == 0 || ps.Deleted != 0 {
		t.Fatalf("prune after the file became live again: %+v", ps)
	}
	if !remoteHas(t, b, p) {
		t.Fatal("revived pack not counted by Has")
	}
	ps = pruneAt(t, s, b, []pointer.Pointer{p}, t0.Add(4*time.Hour), PruneRemoteOptions{Grace: time.Hour})
	if ps.Deleted != 0 || ps.Condemned != 0 {
		t.Fatalf("%+v", ps)
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{p: data}); err != nil {
		t.Fatal(err)
	}
}

// A push that starts after a condemnation uploads the file again, so the
// condemned pack can go although the file is live.
func TestPushAfterCondemnationUploadsAgain(t *testing.T) {
	s := newStore(t)
	b := mem.New()
	data := csvData(4, 40000)
	p := add(t, s, data)
	mustPush(t, s, b, p)
	pruneAt(t, s, b, nil, t0, PruneRemoteOptions{Grace: time.Hour})
	if ps := mustPush(t, s, b, p); ps.Files != 1 || ps.Packs == 0 {
		t.Fatalf("push after condemnation: %+v; want the file uploaded again", ps)
	}
	ps := pruneAt(t, s, b, []pointer.Pointer{p}, t0.Add(2*time.Hour), PruneRemoteOptions{Grace: time.Hour})
	if ps.Deleted == 0 || ps.Revived != 0 {
		t.Fatalf("%+v; want the condemned copy deleted", ps)
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{p: data}); err != nil {
		t.Fatal(err)
	}
}

func TestPruneRemoteRepacksMostlyDeadPacks(t *testing.T) {
	s := newStore(t)
	b := mem.New()
	small, big := []byte("label,1\n"), randData(5, 200000)
	ps, pb := add(t, s, small), add(t, s, big)
	// One pack holds both.
	if _, err := Push(context.Background(), s, newRemote(t, b), []pointer.Pointer{ps, pb}, Options{PackSize: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	st := pruneAt(t, s, b, []pointer.Pointer{ps}, t0, PruneRemoteOptions{Grace: 0})
	if st.Repacked == 0 || st.Deleted == 0 {
		t.Fatalf("%+v; want the mostly dead pack repacked and deleted", st)
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{ps: small}); err != nil {
		t.Fatalf("live file after repack: %v", err)
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{pb: big}); err == nil {
		t.Fatal("dead file still fetches after repack")
	}
}

// gate holds the first upload of an index until released: a push stopped
// between uploading a pack and its index.
type gate struct {
	remote.Backend
	once             sync.Once
	reached, release chan struct{}
}

func (g *gate) Put(ctx context.Context, name string, src io.ReaderAt, size int64, o remote.PutOptions) error {
	if strings.HasSuffix(name, ".idx") {
		g.once.Do(func() {
			close(g.reached)
			<-g.release
		})
	}
	return g.Backend.Put(ctx, name, src, size, o)
}

// A prune that runs while a push is under way condemns the pack whose
// index is not there yet; the push finishes, its commit is kept, and the
// next prune revives the pack rather than delete it.
func TestPruneDuringPush(t *testing.T) {
	s := newStore(t)
	b := mem.New()
	g := &gate{Backend: b, reached: make(chan struct{}), release: make(chan struct{})}
	data := csvData(6, 60000)
	p := add(t, s, data)
	done := make(chan error, 1)
	go func() {
		_, err := Push(context.Background(), s, newRemote(t, g), []pointer.Pointer{p}, Options{PackSize: 256 << 10, Workers: 1})
		done <- err
	}()
	<-g.reached
	// The push's commit is not on the remote yet: nothing is live.
	if ps := pruneAt(t, s, b, nil, t0, PruneRemoteOptions{Grace: time.Hour}); ps.Condemned == 0 || ps.Deleted != 0 {
		t.Fatalf("prune during a push: %+v; want its unindexed pack condemned, nothing deleted", ps)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ps := pruneAt(t, s, b, []pointer.Pointer{p}, t0.Add(2*time.Hour), PruneRemoteOptions{Grace: time.Hour})
	if ps.Revived == 0 {
		t.Fatalf("%+v; want the pushed pack revived", ps)
	}
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{p: data}); err != nil {
		t.Fatal(err)
	}
}

// Packs a killed push left without an index go after the grace.
func TestPruneRemoteDeletesUnindexedPacks(t *testing.T) {
	s := newStore(t)
	b := mem.New()
	putAll(t, b, "packs/"+cas.Sum([]byte("x")).String()+".pack", []byte("left by a killed push"))
	if ps := pruneAt(t, s, b, nil, t0, PruneRemoteOptions{Grace: time.Hour}); ps.Condemned != 1 || ps.Deleted != 0 {
		t.Fatalf("%+v", ps)
	}
	if ps := pruneAt(t, s, b, nil, t0.Add(2*time.Hour), PruneRemoteOptions{Grace: time.Hour}); ps.Deleted != 1 {
		t.Fatalf("%+v", ps)
	}
	var left []string
	b.List(context.Background(), "packs/", remote.ListOptions{}, func(i remote.Info) error {
		if i.Name != "packs/LIST" {
			left = append(left, i.Name)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("left under packs/: %v", left)
	}
}

func TestPruneRemoteWithoutDeletePermission(t *testing.T) {
	s := newStore(t)
	f := remotetest.NewFaulty(mem.New())
	p := add(t, s, csvData(7, 40000))
	mustPush(t, s, f, p)
	f.FailNext(remote.OpDelete, -1, remote.ErrPermission)
	ctx := context.Background()
	r := newRemote(t, f)
	_, err := PruneRemote(ctx, r, func(cas.ID) bool { return false }, PruneRemoteOptions{Grace: 0, TempDir: t.TempDir()})
	if !errors.Is(err, remote.ErrPermission) || !strings.Contains(err.Error(), "may delete") {
		t.Fatalf("err = %v", err)
	}
	// Nothing was lost: the file still fetches.
	f.Reset()
	dst := newStore(t)
	if _, err := Fetch(ctx, dst, newRemote(t, f), []pointer.Pointer{p}, Options{}); err != nil {
		t.Fatal(err)
	}
}

// A damaged record of condemned packs stops writers, not readers.
func TestDamagedCondemnedRecord(t *testing.T) {
	s := newStore(t)
	b := mem.New()
	data := csvData(8, 40000)
	p := add(t, s, data)
	mustPush(t, s, b, p)
	putAll(t, b, "prune/condemned", []byte("{not json"))
	if err := fetchErr(t, b, map[pointer.Pointer][]byte{p: data}); err != nil {
		t.Fatalf("fetch with a damaged record: %v", err)
	}
	q := add(t, s, csvData(9, 1000))
	_, err := Push(context.Background(), s, newRemote(t, b), []pointer.Pointer{q}, Options{})
	if err == nil || !strings.Contains(err.Error(), "prune/condemned") {
		t.Fatalf("push with a damaged record: %v", err)
	}
	r := newRemote(t, b)
	if _, err := PruneRemote(context.Background(), r, func(cas.ID) bool { return true }, PruneRemoteOptions{TempDir: t.TempDir()}); err == nil {
		t.Fatal("prune with a damaged record succeeded")
	}
	if err := b.Delete(context.Background(), "prune/condemned"); err != nil {
		t.Fatal(err)
	}
	mustPush(t, s, b, q)
}

func TestPruneLock(t *testing.T) {
	ctx := context.Background()
	b := mem.New()
	r := newRemote(t, b)
	release, err := r.LockPrune(ctx, "alice", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newRemote(t, b).LockPrune(ctx, "bob", t0.Add(time.Minute)); !errors.Is(err, remotestore.ErrPruneRunning) || !strings.Contains(err.Error(), "alice") {
		t.Fatalf("second prune: %v", err)
	}
	// A lock a killed prune left expires.
	carol, err := newRemote(t, b).LockPrune(ctx, "carol", t0.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("expired lock: %v", err)
	}
	// Alice's release leaves carol's lock alone.
	release()
	if _, err := newRemote(t, b).LockPrune(ctx, "dave", t0.Add(2*time.Hour+time.Minute)); !errors.Is(err, remotestore.ErrPruneRunning) {
		t.Fatalf("a stale holder's release freed the lock: %v", err)
	}
	carol()
	rel, err := newRemote(t, b).LockPrune(ctx, "dave", t0.Add(2*time.Hour+time.Minute))
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	rel()
}
