package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
)

func newFilter(t *testing.T) *Filter {
	t.Helper()
	s, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &Filter{Store: s}
}

func clean(t *testing.T, f *Filter, content []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := f.Clean(context.Background(), bytes.NewReader(content), &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestCleanSmudge(t *testing.T) {
	f := newFilter(t)
	ptrLike := []byte("version lode/1 is how this text begins, but it is not a pointer\n")
	big := bytes.Repeat([]byte("a,b,c,1,2,3\n"), 50000)
	for _, content := range [][]byte{[]byte("hello\n"), ptrLike, big} {
		p := clean(t, f, content)
		if _, err := pointer.Parse(p); err != nil {
			t.Fatalf("clean gave %q, not a pointer: %v", p, err)
		}
		// Cleaning a pointer gives the same pointer.
		if again := clean(t, f, p); !bytes.Equal(again, p) {
			t.Fatalf("clean of a pointer = %q, want it unchanged", again)
		}
		var out bytes.Buffer
		if err := f.Smudge(context.Background(), bytes.NewReader(p), &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), content) {
			t.Fatalf("smudge gave %d bytes, want %d", out.Len(), len(content))
		}
	}
	if p := clean(t, f, nil); len(p) != 0 {
		t.Fatalf("clean of empty content = %q, want empty", p)
	}
}

func TestSmudgeInputs(t *testing.T) {
	f := newFilter(t)
	stored := clean(t, f, []byte("data\n"))
	missing := pointer.Pointer{OID: cas.Sum([]byte("not stored")), Size: 10}.Encode()
	tests := []struct {
		name    string
		in      []byte
		skip    bool
		want    []byte // nil: an error is expected
		wantErr error
		errText string
	}{
		{name: "plain text passes", in: []byte("id,value\n1,2\n"), want: []byte("id,value\n1,2\n")},
		{name: "empty passes", in: []byte{}, want: []byte{}},
		{name: "git lfs pointer passes", in: []byte("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1\n"), want: []byte("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1\n")},
		{name: "large content starting like a pointer passes", in: append([]byte("version lode/1\n"), bytes.Repeat([]byte("x"), 500)...), want: append([]byte("version lode/1\n"), bytes.Repeat([]byte("x"), 500)...)},
		{name: "pointer smudges", in: stored, want: []byte("data\n")},
		{name: "skip leaves pointer", in: stored, skip: true, want: stored},
		{name: "malformed pointer fails", in: []byte("version lode/1\noid blake3:xyz\nsize 3\n"), errText: "not valid"},
		{name: "future version fails", in: []byte("version lode/7\noid blake3:00\nsize 3\n"), wantErr: pointer.ErrUnsupportedVersion},
		{name: "missing object fails", in: missing, wantErr: ErrMissingObject, errText: cas.Sum([]byte("not stored")).String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.SkipSmudge = tt.skip
			defer func() { f.SkipSmudge = false }()
			var out bytes.Buffer
			err := f.Smudge(context.Background(), bytes.NewReader(tt.in), &out)
			if tt.want != nil {
				if err != nil || !bytes.Equal(out.Bytes(), tt.want) {
					t.Fatalf("Smudge = %q, %v; want %q", out.Bytes(), err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Smudge succeeded with %q", out.Bytes())
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Smudge error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("Smudge error %q does not mention %q", err, tt.errText)
			}
		})
	}
}

// A damaged chunk in the local store is replaced through Repair, and the
// file comes out whole, as if nothing had happened.
func TestSmudgeRepairsDamagedChunk(t *testing.T) {
	ctx := context.Background()
	f := newFilter(t)
	good := newFilter(t) // another store with an intact copy
	content := make([]byte, 600<<10)
	for i := range content {
		content[i] = byte(i*7 + i/1000)
	}
	ptr := clean(t, f, content)
	clean(t, good, content)
	p, _ := pointer.Parse(ptr)
	// Damage every pack of the first store.
	for _, pi := range f.Store.Packs() {
		flip(t, pi.Path, pi.Size/2)
	}
	var out bytes.Buffer
	if err := f.Smudge(ctx, bytes.NewReader(ptr), &out); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("smudge without Repair = %v, want ErrCorrupt", err)
	}
	repaired := 0
	f.Repair = func(ctx context.Context, rp pointer.Pointer, id cas.ID) error {
		if rp != p {
			t.Errorf("Repair for %v, want %v", rp, p)
		}
		repaired++
		if _, err := f.Store.DropCorrupt(ctx, id); err != nil {
			return err
		}
		e, stored, err := good.Store.GetStored(ctx, id)
		if err != nil {
			return err
		}
		pk := f.Store.NewPacker()
		defer pk.Close()
		if err := pk.Add(id, e.Kind, e.Method, int(e.RawLen), stored); err != nil {
			return err
		}
		return pk.Flush(ctx)
	}
	out.Reset()
	if err := f.Smudge(ctx, bytes.NewReader(ptr), &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), content) || repaired == 0 {
		t.Fatalf("smudge after repair: %d bytes, %d repairs", out.Len(), repaired)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x20
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// With Batch, the files one filter cleans share a pack, published by
// Flush (and before the filter smudges anything), not one pack per file.
func TestBatchSharesPacks(t *testing.T) {
	ctx := context.Background()
	f := newFilter(t)
	f.Batch = true
	var ptrs [][]byte
	var contents [][]byte
	for i := range 20 {
		c := bytes.Repeat([]byte{byte('a' + i)}, 3000+i*1000)
		contents = append(contents, c)
		ptrs = append(ptrs, clean(t, f, c))
	}
	// Another process sees nothing yet.
	other, err := store.Open(f.Store.Dir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if n := len(other.Packs()); n != 0 {
		t.Fatalf("%d packs published before Flush", n)
	}
	// A smudge in the same filter publishes first, and finds the data.
	var out bytes.Buffer
	if err := f.Smudge(ctx, bytes.NewReader(ptrs[3]), &out); err != nil || !bytes.Equal(out.Bytes(), contents[3]) {
		t.Fatalf("smudge of a file cleaned in the same batch: %v", err)
	}
	other.Refresh()
	if n := len(other.Packs()); n != 1 {
		t.Fatalf("%d packs for 20 files cleaned by one filter, want 1", n)
	}
	clean(t, f, []byte("one more file, after the flush\n"))
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	other.Refresh()
	if n := len(other.Packs()); n != 2 {
		t.Fatalf("%d packs after a second flush, want 2", n)
	}
}

// The idle flush publishes without a Flush call.
func TestFlushWhenIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFilter(t)
	f.Batch = true
	go f.FlushWhenIdle(ctx, 20*time.Millisecond, func(err error) { t.Error(err) })
	clean(t, f, []byte("some content that is not a pointer\n"))
	deadline := time.Now().Add(5 * time.Second)
	for len(f.Store.Packs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing published while idle")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Delayed smudges are fetched in batches, not one file at a time.
func TestDelayFetchesInBatches(t *testing.T) {
	ctx := context.Background()
	src := newFilter(t)
	f := newFilter(t)
	var calls [][]pointer.Pointer
	var mu sync.Mutex
	f.Fetch = func(ctx context.Context, ps []pointer.Pointer) error {
		mu.Lock()
		calls = append(calls, ps)
		mu.Unlock()
		for _, p := range ps { // copy from src, as a remote would
			if err := copyFile(ctx, src.Store, f.Store, p); err != nil {
				return err
			}
		}
		return nil
	}
	const n = 300
	var ptrs [][]byte
	for i := range n {
		ptrs = append(ptrs, clean(t, src, []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), 10))))
	}
	for i, ptr := range ptrs { // as git does: all delayable files first
		if path := fmt.Sprintf("f%03d", i); !f.Delay(ctx, path, ptr) {
			t.Fatalf("%s not delayed", path)
		}
	}
	got := 0
	for {
		ready, err := f.Available(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ready) == 0 {
			break
		}
		got += len(ready)
	}
	f.Wait()
	if got != n {
		t.Fatalf("%d files ready, want %d", got, n)
	}
	if len(calls) > 3 {
		t.Fatalf("%d fetches for %d files: not batched", len(calls), n)
	}
}

// Delayed files past what is held in memory wait on disk, and the queue
// of files to fetch stays bounded while the fetches are slow: what the
// filter holds does not grow with the number of files.
func TestDelayManyFilesBounded(t *testing.T) {
	ctx := context.Background()
	f := newFilter(t)
	n := maxQueued + readyInMemory + 500
	var mu sync.Mutex
	maxQueue, batches := 0, 0
	f.Fetch = func(ctx context.Context, ps []pointer.Pointer) error {
		f.delay.mu.Lock()
		q := len(f.delay.queue)
		f.delay.mu.Unlock()
		mu.Lock()
		maxQueue = max(maxQueue, q)
		batches++
		mu.Unlock()
		time.Sleep(150 * time.Millisecond) // slower than git sends
		return nil                         // nothing fetched: Smudge would say why
	}
	ptrs := map[string]string{}
	for i := range n {
		p := pointer.New(cas.Sum([]byte(fmt.Sprint(i))), 100, cas.ID{})
		path := fmt.Sprintf("dir/f%06d", i)
		ptrs[path] = p.String()
		if !f.Delay(ctx, path, p.Encode()) {
			t.Fatalf("%s not delayed", path)
		}
	}
	f.Wait() // every batch fetched: the pathnames wait for git
	f.delay.mu.Lock()
	spilled, inMem := f.delay.ready.spilled, len(f.delay.ready.mem)
	f.delay.mu.Unlock()
	if inMem > readyInMemory {
		t.Errorf("%d pathnames in memory, more than %d", inMem, readyInMemory)
	}
	seen := map[string]bool{}
	for {
		ready, err := f.Available(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ready) == 0 {
			break
		}
		if len(ready) > readyInMemory {
			t.Fatalf("Available gave %d pathnames at once, more than %d", len(ready), readyInMemory)
		}
		for _, p := range ready {
			if seen[p] {
				t.Fatalf("%s reported twice", p)
			}
			seen[p] = true
			// git asks for each listed file again: its pointer is there,
			// once, spilled or not.
			if b, ok := f.DelayedPointer(p); !ok || string(b) != ptrs[p] {
				t.Fatalf("DelayedPointer(%s) = %q %v, want %q", p, b, ok, ptrs[p])
			}
			if _, ok := f.DelayedPointer(p); ok {
				t.Fatalf("DelayedPointer(%s) a second time", p)
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("%d files reported, want %d", len(seen), n)
	}
	if maxQueue > maxQueued {
		t.Errorf("queue reached %d files, more than %d", maxQueue, maxQueued)
	}
	if spilled == 0 {
		t.Errorf("no pathname waited on disk with %d files delayed (%d batches)", n, batches)
	}
	if ents, _ := os.ReadDir(f.Store.TempDir()); len(ents) != 0 {
		t.Errorf("left in the store's tmp: %v", ents)
	}
}

// copyFile copies the objects of the file p points to from one store to
// another.
func copyFile(ctx context.Context, from, to *store.Store, p pointer.Pointer) error {
	m, err := filer.Manifest(ctx, from, p)
	if err != nil {
		return err
	}
	pk := to.NewPacker()
	defer pk.Close()
	ids := []cas.ID{}
	if id, ok := manifest.ObjectID(p); ok {
		ids = append(ids, id)
	}
	for _, c := range m.Chunks {
		ids = append(ids, c.ID)
	}
	for _, id := range ids {
		e, stored, err := from.GetStored(ctx, id)
		if err != nil {
			return err
		}
		if err := pk.Add(id, e.Kind, e.Method, int(e.RawLen), stored); err != nil {
			return err
		}
	}
	return pk.Flush(ctx)
}

// The size rule passes content below the threshold through, byte for
// byte, and cleans the rest; a pointer stays the pointer it is.
func TestCleanPassBelow(t *testing.T) {
	ptr := clean(t, newFilter(t), []byte("some data\n"))
	for _, tc := range []struct {
		name    string
		above   int64
		size    int
		cleaned bool
	}{
		{"empty", 100, 0, false},
		{"small below", 100, 99, false},
		{"small at", 100, 100, true},
		{"small above", 100, 5000, true},
		{"past the small-file buffer, below", 2 << 20, SmallFile + 10, false},
		{"just below a large threshold", 2 << 20, 2<<20 - 1, false},
		{"at a large threshold", 2 << 20, 2 << 20, true},
		{"below, held in a file", spoolMemory + 4<<20, spoolMemory + 1<<20, false},
		{"at, held in a file", spoolMemory + 1<<20, spoolMemory + 1<<20, true},
		{"above, held in a file", spoolMemory + 1<<20, spoolMemory + 3<<20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFilter(t)
			f.PassBelow = tc.above
			content := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16+1)[:tc.size]
			out := clean(t, f, content)
			if !tc.cleaned {
				if !bytes.Equal(out, content) {
					t.Fatalf("clean of %d bytes below %d gave %d bytes, want the content unchanged", tc.size, tc.above, len(out))
				}
				return
			}
			p, err := pointer.Parse(out)
			if err != nil || p.Size != int64(tc.size) {
				t.Fatalf("clean of %d bytes at or above %d gave %q (%v), want a pointer", tc.size, tc.above, out[:min(len(out), 80)], err)
			}
			var back bytes.Buffer
			if err := f.Smudge(context.Background(), bytes.NewReader(out), &back); err != nil || !bytes.Equal(back.Bytes(), content) {
				t.Fatalf("smudge: %v (%d bytes)", err, back.Len())
			}
			if ents, _ := os.ReadDir(f.Store.TempDir()); len(ents) != 0 {
				t.Fatalf("the store's tmp holds %d file(s) after clean", len(ents))
			}
		})
	}
	f := newFilter(t)
	f.PassBelow = 1 << 20
	if out := clean(t, f, ptr); !bytes.Equal(out, ptr) {
		t.Fatalf("clean of a pointer with the size rule = %q, want it unchanged", out)
	}
	// What only starts like a pointer is a small file: both ways unchanged.
	doc := []byte("version lode/2\nis how a pointer begins\n")
	if out := clean(t, f, doc); !bytes.Equal(out, doc) {
		t.Fatalf("clean of pointer-looking text = %q", out)
	}
	var back bytes.Buffer
	if err := f.Smudge(context.Background(), bytes.NewReader(doc), &back); err != nil || !bytes.Equal(back.Bytes(), doc) {
		t.Fatalf("smudge of pointer-looking text with the size rule: %v, %q", err, back.Bytes())
	}
	f.PassBelow = 0
	if err := f.Smudge(context.Background(), bytes.NewReader(doc), &back); err == nil {
		t.Fatal("smudge of pointer-looking text without the size rule succeeded")
	}
}

// A pointer whose line ends git turned into CRLF still smudges.
func TestSmudgeCRLFPointer(t *testing.T) {
	f := newFilter(t)
	content := []byte("content behind a pointer\n")
	p := clean(t, f, content)
	var out bytes.Buffer
	if err := f.Smudge(context.Background(), bytes.NewReader(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))), &out); err != nil || !bytes.Equal(out.Bytes(), content) {
		t.Fatalf("smudge of a CRLF pointer: %v, %q", err, out.Bytes())
	}
}

// A file whose data cannot be fetched gives an *UnavailableError with the
// pointer's text, and nothing is written; a delayed batch's failure is
// remembered, so the file is not fetched again when git asks for it.
func TestSmudgeUnavailable(t *testing.T) {
	ctx := context.Background()
	src := newFilter(t)
	f := newFilter(t)
	lost := errors.New("the remote lost it")
	have := clean(t, src, []byte(strings.Repeat("kept\n", 100)))
	gone := clean(t, src, []byte(strings.Repeat("gone\n", 100)))
	pGone, _ := pointer.Parse(gone)
	var calls int
	var mu sync.Mutex
	f.Fetch = func(ctx context.Context, ps []pointer.Pointer) error {
		mu.Lock()
		calls++
		mu.Unlock()
		fe := &transfer.FetchError{}
		for _, p := range ps {
			if p.OID == pGone.OID {
				fe.Files, fe.Errs = append(fe.Files, p), append(fe.Errs, lost)
				continue
			}
			if err := copyFile(ctx, src.Store, f.Store, p); err != nil {
				return err
			}
		}
		if len(fe.Files) > 0 {
			return fe
		}
		return nil
	}

	var out bytes.Buffer
	err := f.Smudge(ctx, bytes.NewReader(gone), &out)
	var u *UnavailableError
	if !errors.As(err, &u) || !errors.Is(err, ErrMissingObject) || !errors.Is(err, lost) {
		t.Fatalf("Smudge = %v, want an UnavailableError wrapping the cause", err)
	}
	if out.Len() != 0 || !bytes.Equal(u.Text, gone) || u.Pointer.OID != pGone.OID {
		t.Fatalf("wrote %d bytes, Text %q", out.Len(), u.Text)
	}

	// Delayed: one batch fetch for both files; git's second request for
	// the lost one does not fetch again.
	calls = 0
	for _, c := range []struct {
		path string
		ptr  []byte
	}{{"have", have}, {"gone2", gone}} {
		if !f.Delay(ctx, c.path, c.ptr) {
			t.Fatalf("%s not delayed", c.path)
		}
	}
	for n := 0; n < 2; {
		ready, err := f.Available(ctx)
		if err != nil || len(ready) == 0 {
			t.Fatalf("Available = %v, %v", ready, err)
		}
		n += len(ready)
	}
	f.Wait()
	out.Reset()
	if err := f.Smudge(ctx, bytes.NewReader(have), &out); err != nil || out.String() != strings.Repeat("kept\n", 100) {
		t.Fatalf("Smudge of a fetched file = %v", err)
	}
	if err := f.Smudge(ctx, bytes.NewReader(gone), &out); !errors.As(err, &u) || !errors.Is(err, lost) {
		t.Fatalf("Smudge of the lost file after its batch = %v", err)
	}
	if calls != 1 {
		t.Fatalf("%d fetches, want the batch's only", calls)
	}

	// Without a way to fetch: unavailable too, before anything is written.
	f.Fetch = nil
	f2 := newFilter(t)
	out.Reset()
	if err := f2.Smudge(ctx, bytes.NewReader(have), &out); !errors.As(err, &u) || !errors.Is(err, cas.ErrNotFound) || out.Len() != 0 {
		t.Fatalf("Smudge without a remote = %v (%d bytes)", err, out.Len())
	}
}
