package commitfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/lodevcs/lode/cas/pointer"
)

// opcodes counts the FUSE requests a mount receives, from go-fuse's debug
// log (Options.Debug).
type opcodes struct {
	mu     sync.Mutex // guards counts
	counts map[string]int
}

var requestLine = regexp.MustCompile(`^rx \d+: ([A-Z_]+)`)

func (o *opcodes) logf(format string, args ...any) {
	m := requestLine.FindStringSubmatch(fmt.Sprintf(format, args...))
	if m == nil {
		return
	}
	o.mu.Lock()
	o.counts[m[1]]++
	o.mu.Unlock()
}

// take returns the counts so far and starts again from zero.
// settle waits until no request has been counted for 100 ms: the kernel
// sends RELEASE after close returns, and it must count for the file
// whose close sent it.
func (o *opcodes) settle() {
	total := func() int {
		o.mu.Lock()
		defer o.mu.Unlock()
		n := 0
		for _, c := range o.counts {
			n += c
		}
		return n
	}
	last, since := total(), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if n := total(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= 100*time.Millisecond {
			return
		}
	}
}

func (o *opcodes) take() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.counts
	o.counts = map[string]int{}
	return c
}

// smallDir is a tree of one directory of n small lode files, f000 ... .
func smallDir(n int) (*memObjects, Hash, *fakeFiles, []*fakeFile) {
	files := newFakeFiles()
	m := newMemObjects()
	var es []Entry
	var ffs []*fakeFile
	pat := newPattern(uint64(n))
	for i := range n {
		f := files.addPattern(fmt.Sprintf("small%d", i), int64(2<<10+i*100), pat)
		ffs = append(ffs, f)
		es = append(es, Entry{Name: fmt.Sprintf("f%03d", i), Mode: ModeRegular, Hash: m.blob(f.ptr.Encode())})
	}
	root := m.tree(Entry{Name: "dir", Mode: ModeDir, Hash: m.tree(es...)})
	return m, root, files, ffs
}

// TestSmallFileRequests checks what reading a small file costs in FUSE
// requests once its directory is listed: with files opened without a
// request, one READ (the first open and close teach the kernel that OPEN
// and FLUSH need no answer); else an OPEN, one READ and a RELEASE, no
// FLUSH (FOPEN_NOFLUSH). A second read of it costs no READ.
func TestSmallFileRequests(t *testing.T) {
	for _, withOpens := range []bool{false, true} {
		t.Run(fmt.Sprintf("withOpens=%v", withOpens), func(t *testing.T) {
			m, root, files, ffs := smallDir(3)
			ops := &opcodes{counts: map[string]int{}}
			_, dir := mount(t, Options{Root: root, Objects: m, Files: files, Debug: true, Logf: ops.logf, withOpens: withOpens})
			if _, err := os.ReadDir(filepath.Join(dir, "dir")); err != nil {
				t.Fatal(err)
			}
			read := func(i int) {
				t.Helper()
				b, err := os.ReadFile(filepath.Join(dir, "dir", fmt.Sprintf("f%03d", i)))
				if err != nil {
					t.Fatal(err)
				}
				if want := ffs[i].content(0, ffs[i].ptr.Size); string(b) != string(want) {
					t.Fatalf("read %d bytes, not the file's %d", len(b), len(want))
				}
			}
			read(2) // the first file: the kernel learns what it may skip
			ops.settle()
			ops.take()
			read(1)
			ops.settle()
			got := ops.take()
			want := map[string]int{"READ": 1}
			if withOpens {
				want = map[string]int{"OPEN": 1, "READ": 1, "RELEASE": 1}
			}
			if got["READ"] != want["READ"] || got["OPEN"] != want["OPEN"] || got["FLUSH"] != 0 || got["RELEASE"] != want["RELEASE"] {
				t.Errorf("reading a small file cost %v; want %v", got, want)
			}
			read(1)
			if got := ops.take(); got["READ"] != 0 {
				t.Errorf("a second read of the file reached the server: %v", got)
			}
		})
	}
}

// TestListingReadsHeadsOnce checks that a listing reads the blob head of
// every file once, in one pass, and that the lookups that follow need no
// object reads: neither those of the listing itself (READDIRPLUS), nor
// stat or open of every entry, nor the lookups again after the kernel
// dropped its entries. A lookup before any listing reads only its own
// entry's head, which the listing does not read again.
func TestListingReadsHeadsOnce(t *testing.T) {
	requireFUSE(t)
	m, root, files, ffs := smallDir(50)
	opts := Options{Root: root, Objects: m, Files: files}
	top, err := NewRoot(opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := fs.Mount(dir, top, FSOptions(opts))
	if err != nil {
		skipOrFail(t, fmt.Sprintf("cannot mount FUSE here: %v", err))
	}
	t.Cleanup(func() { _ = srv.Unmount() })
	d := filepath.Join(dir, "dir")
	if fi, err := os.Stat(filepath.Join(d, "f007")); err != nil || fi.Size() != ffs[7].ptr.Size {
		t.Fatalf("stat f007: %v, %v", fi, err)
	}
	if n := m.heads.Load(); n != 1 {
		t.Fatalf("a lookup read %d blob heads, want 1", n)
	}
	es, err := os.ReadDir(d)
	if err != nil || len(es) != len(ffs) {
		t.Fatalf("ReadDir: %d entries, %v", len(es), err)
	}
	statAll := func() {
		t.Helper()
		for i, e := range es {
			fi, err := os.Stat(filepath.Join(d, e.Name()))
			if err != nil || fi.Size() != ffs[i].ptr.Size {
				t.Fatalf("%s: %v, %v; want size %d", e.Name(), fi, err, ffs[i].ptr.Size)
			}
		}
	}
	statAll()
	if n := m.heads.Load(); n != int64(len(ffs)) {
		t.Fatalf("after the listing %d blob heads were read, want each of the %d once", n, len(ffs))
	}
	// The kernel forgets the names (as under memory pressure): each
	// stat is a LOOKUP again, answered from the directory's heads.
	sub := top.EmbeddedInode().GetChild("dir")
	for _, e := range es {
		if errno := sub.NotifyEntry(e.Name()); errno != 0 {
			t.Fatalf("invalidate %s: %v", e.Name(), errno)
		}
	}
	statAll()
	b, err := os.ReadFile(filepath.Join(d, "f042"))
	if err != nil || string(b) != string(ffs[42].content(0, ffs[42].ptr.Size)) {
		t.Fatalf("read f042: %d bytes, %v", len(b), err)
	}
	if n := m.heads.Load(); n != int64(len(ffs)) {
		t.Fatalf("lookups and reads after the listing read %d more blob heads", n-int64(len(ffs)))
	}
}

// recordingFiles is fakeFiles that records what it is asked to prefetch,
// and takes it or not as busy says. With serve, it also reports each file
// it takes as read whole, from a goroutine of its own (wait waits for
// them).
type recordingFiles struct {
	*fakeFiles
	serve bool

	mu      sync.Mutex // guards offers, busy, serving
	offers  [][]pointer.Pointer
	busy    bool
	serving int // batches being reported
}

func (r *recordingFiles) Prefetch(ps []pointer.Pointer, got func(int, []byte)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offers = append(r.offers, slices.Clone(ps))
	if r.busy {
		return false
	}
	if r.serve && got != nil {
		ps := slices.Clone(ps)
		r.serving++
		go func() {
			defer func() {
				r.mu.Lock()
				r.serving--
				r.mu.Unlock()
			}()
			for i, p := range ps {
				r.fakeFiles.mu.Lock()
				f := r.files[p.OID]
				r.fakeFiles.mu.Unlock()
				got(i, f.content(0, p.Size))
			}
		}()
	}
	return true
}

// wait waits until every batch taken has been reported.
func (r *recordingFiles) wait(t *testing.T) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		n := r.serving
		r.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d prefetches still reporting after 10 s", n)
		}
	}
}

func (r *recordingFiles) setBusy(b bool) {
	r.mu.Lock()
	r.busy = b
	r.mu.Unlock()
}

// take returns the offers so far and forgets them.
func (r *recordingFiles) take() [][]pointer.Pointer {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.offers
	r.offers = nil
	return o
}

// TestPrefetchNextFiles checks that reading the files of a listed
// directory in order offers the files after the one being read to
// Prefetch, in listing order and without gaps, up to prefetchWindow bytes
// ahead in batches, and again each time the reader has passed the middle
// of what was offered; that an offer refused (busy) is made again with the
// next read; and that reads out of order offer nothing.
func TestPrefetchNextFiles(t *testing.T) {
	m, root, fake, ffs := smallDir(400)
	files := &recordingFiles{fakeFiles: fake}
	_, dir := mount(t, Options{Root: root, Objects: m, Files: files})
	d := filepath.Join(dir, "dir")
	if _, err := os.ReadDir(d); err != nil {
		t.Fatal(err)
	}
	read := func(i int) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(d, fmt.Sprintf("f%03d", i)))
		if err != nil || len(b) != int(ffs[i].ptr.Size) {
			t.Fatalf("read f%03d: %d bytes, %v", i, len(b), err)
		}
	}
	// offered returns the files offered since the last call, by index,
	// and checks that the batches are of at most prefetchBatch bytes.
	offered := func() []int {
		t.Helper()
		var idx []int
		for _, o := range files.take() {
			var bytes int64
			for _, p := range o {
				idx = append(idx, slices.IndexFunc(ffs, func(f *fakeFile) bool { return f.ptr == p }))
				bytes += p.Size
			}
			if bytes-o[len(o)-1].Size >= prefetchBatch {
				t.Errorf("a batch of %d bytes, more than prefetchBatch", bytes)
			}
		}
		return idx
	}
	ahead := 0 // files before it were offered
	check := func(reading int, got []int) {
		t.Helper()
		if len(got) == 0 {
			return
		}
		for k, i := range got {
			if i != ahead+k+1 {
				t.Fatalf("reading f%03d offered %v; want files from f%03d in order", reading, got, ahead+1)
			}
		}
		var bytes int64
		for _, i := range got {
			bytes += ffs[i].ptr.Size
		}
		for j := reading + 1; j <= ahead; j++ {
			bytes += ffs[j].ptr.Size
		}
		if last := got[len(got)-1]; bytes < prefetchWindow && last != len(ffs)-1 {
			t.Fatalf("reading f%03d offered up to f%03d, %d bytes ahead; want %d", reading, last, bytes, prefetchWindow)
		}
		ahead = got[len(got)-1]
	}

	read(0)
	got := offered()
	if len(got) == 0 {
		t.Fatal("reading f000 offered nothing")
	}
	check(0, got)
	// Reading on offers nothing until past the middle of what is ahead,
	// then the files after what was offered.
	first := ahead
	i := 1
	for ; i < first; i++ {
		read(i)
		if got := offered(); len(got) > 0 {
			if i < first/2 {
				t.Fatalf("read f%03d, before the middle of the %d files offered, and got an offer", i, first)
			}
			check(i, got)
			break
		}
	}
	if ahead == first {
		t.Fatalf("reading f001-f%03d in order offered nothing more", first)
	}

	// Busy: the offer is refused, and made again with the next read.
	files.setBusy(true)
	var refused []int
	for i++; len(refused) == 0; i++ {
		if i >= len(ffs) {
			t.Fatal("reading to the end made no offer")
		}
		read(i)
		refused = offered()
	}
	files.setBusy(false)
	read(i) // the next file in order
	if again := offered(); len(again) == 0 || again[0] != refused[0] {
		t.Fatalf("after a refused offer starting at f%03d, the next read offered %v", refused[0], again)
	}

	// Out of order: a jump offers nothing.
	read(10)
	read(350)
	if o := offered(); len(o) != 0 {
		t.Fatalf("reads out of order offered %v", o)
	}
}

// TestPrefetchStoresPages checks that the files a prefetch reads whole go
// to the kernel's page cache: reading them then costs an open and no READ
// request, and gives their bytes.
func TestPrefetchStoresPages(t *testing.T) {
	m, root, fake, ffs := smallDir(20)
	files := &recordingFiles{fakeFiles: fake, serve: true}
	ops := &opcodes{counts: map[string]int{}}
	_, dir := mount(t, Options{Root: root, Objects: m, Files: files, Debug: true, Logf: ops.logf})
	d := filepath.Join(dir, "dir")
	if _, err := os.ReadDir(d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(filepath.Join(d, "f000")); err != nil {
		t.Fatal(err)
	}
	files.wait(t)
	ops.take()
	for i := 1; i < len(ffs); i++ {
		b, err := os.ReadFile(filepath.Join(d, fmt.Sprintf("f%03d", i)))
		if err != nil || string(b) != string(ffs[i].content(0, ffs[i].ptr.Size)) {
			t.Fatalf("read f%03d: %d bytes, %v", i, len(b), err)
		}
	}
	if got := ops.take(); got["READ"] != 0 {
		t.Errorf("reading %d prefetched files made %d READ requests (%v); want none", len(ffs)-1, got["READ"], got)
	}
}

// TestStreams checks the readers a lode file keeps for reads without a
// handle: one per calling thread, the same for the same thread, at most
// maxStreams, the least recent dropped first.
func TestStreams(t *testing.T) {
	l := &lodeNode{}
	as := func(pid uint32) context.Context {
		return fuse.NewContext(context.Background(), &fuse.Caller{Pid: pid})
	}
	first := l.stream(as(1))
	if l.stream(as(1)) != first {
		t.Fatal("the same caller got a new stream")
	}
	if l.stream(as(2)) == first {
		t.Fatal("another caller got the first caller's stream")
	}
	for pid := uint32(3); pid < 3+maxStreams-2; pid++ {
		l.stream(as(pid))
	}
	if len(l.streams) != maxStreams || l.stream(as(1)) != first {
		t.Fatalf("%d streams, or the first caller's was dropped while %d were in use", len(l.streams), maxStreams)
	}
	l.stream(as(100)) // drops the least recent: caller 2
	if len(l.streams) != maxStreams || l.stream(as(1)) != first {
		t.Fatal("a new caller dropped a recent stream")
	}
	if slices.ContainsFunc(l.streams, func(h *lodeHandle) bool { return h.caller == 2 }) {
		t.Fatal("the least recent caller's stream was kept")
	}
}
