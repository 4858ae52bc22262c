package chunker

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/lodevcs/lode/cas"
)

func TestBoundaryMatchesReference(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"random", randomBytes(10, 3<<20)},
		{"csv", csvBytes(11, 2<<20)},
		{"zeros", make([]byte, 1<<20)},
		{"ones", bytes.Repeat([]byte{0xff}, 1<<20)},
		{"period 3", bytes.Repeat([]byte("abc"), 300_000)},
		{"period 1000", bytes.Repeat(randomBytes(12, 1000), 1000)},
		{"two-letter alphabet", lowEntropy(13, 2<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Odd starts move every window relative to the unrolled loop.
			for _, skip := range []int{0, 1, 7, 4093} {
				d := tt.data[skip:]
				got, want := cutAll(d, Boundary), cutAll(d, refBoundary)
				if !slices.Equal(got, want) {
					t.Fatalf("skip %d: Boundary cuts %v, reference cuts %v", skip, head(got), head(want))
				}
				checkInvariants(t, got, len(d))
			}
		})
	}
}

// lowEntropy returns n bytes drawn from {'a', 'b'}.
func lowEntropy(seed uint64, n int) []byte {
	b := randomBytes(seed, n)
	for i := range b {
		b[i] = 'a' + b[i]&1
	}
	return b
}

func head(s []int) []int { return s[:min(len(s), 8)] }

// windowHash is the gear hash of a 64-byte window.
func windowHash(w []byte) uint64 {
	var h uint64
	for _, b := range w[len(w)-window:] {
		h = h<<1 + gear[b]
	}
	return h
}

// plantKit holds what TestBoundaryEdges builds streams from: a background
// byte in which no length is a cut point, and two windows that plant a cut
// point wherever they end: strict passes maskStrict (and so maskLoose);
// loose passes maskLoose only. Both need all 64 of their bytes.
type plantKit struct {
	bg            byte
	strict, loose []byte
}

func newPlantKit(t *testing.T) plantKit {
	t.Helper()
	var k plantKit
	for k.bg = 0; windowHash(bytes.Repeat([]byte{k.bg}, window))&maskLoose == 0; k.bg++ {
	}
	r := rand.New(rand.NewPCG(1, 2))
	find := func(ok func(h uint64) bool) []byte {
		w := make([]byte, window)
		for tries := 0; tries < 1<<20; tries++ {
			for i := range w {
				w[i] = byte(r.Uint32())
			}
			// An odd gear[w[0]] sets the top bit of the hash, so a window
			// hashed one byte short is not a cut point.
			if gear[w[0]]&1 == 0 || !ok(windowHash(w)) {
				continue
			}
			// The windows straddling w and the background must not be
			// cut points, or planted streams would have extra ones.
			s := bytes.Repeat([]byte{k.bg}, 4*window)
			copy(s[2*window:], w)
			if hits := cutPoints(s); len(hits) == 1 && hits[0] == 3*window {
				return w
			}
		}
		t.Fatal("found no window to plant")
		return nil
	}
	k.strict = find(func(h uint64) bool { return h&maskStrict == 0 })
	k.loose = find(func(h uint64) bool { return h&maskLoose == 0 && h&maskStrict != 0 })
	return k
}

// cutPoints returns every length l >= window at which the 64 bytes ending
// there pass maskLoose.
func cutPoints(s []byte) []int {
	var hits []int
	for l := window; l <= len(s); l++ {
		if windowHash(s[l-window:l])&maskLoose == 0 {
			hits = append(hits, l)
		}
	}
	return hits
}

func TestBoundaryEdges(t *testing.T) {
	k := newPlantKit(t)
	type plant struct {
		end    int // length at which the planted window ends
		strict bool
	}
	tests := []struct {
		name   string
		n      int
		plants []plant
		want   int
	}{
		{"empty", 0, nil, 0},
		{"below MinSize", 100, []plant{{80, true}}, 100},
		{"exactly MinSize", MinSize, []plant{{4000, true}}, MinSize},
		{"no cut point", 2 * MaxSize, nil, MaxSize},
		{"no cut point, short input", MinSize + 10, nil, MinSize + 10},
		{"no cut point, input of MaxSize+1", MaxSize + 1, nil, MaxSize},
		{"strict one byte before MinSize is ignored", 2 * MaxSize, []plant{{MinSize - 1, true}}, MaxSize},
		{"strict at MinSize", 2 * MaxSize, []plant{{MinSize, true}}, MinSize},
		{"strict one byte before TargetSize", 2 * MaxSize, []plant{{TargetSize - 1, true}}, TargetSize - 1},
		{"loose at MinSize is ignored", 2 * MaxSize, []plant{{MinSize, false}}, MaxSize},
		{"loose one byte before TargetSize is ignored", 2 * MaxSize, []plant{{TargetSize - 1, false}}, MaxSize},
		{"loose at TargetSize", 2 * MaxSize, []plant{{TargetSize, false}}, TargetSize},
		{"loose one byte before MaxSize", 2 * MaxSize, []plant{{MaxSize - 1, false}}, MaxSize - 1},
		{"strict one byte after MaxSize is ignored", 2 * MaxSize, []plant{{MaxSize + 1, true}}, MaxSize},
		{"first of two", 2 * MaxSize, []plant{{TargetSize + 500, false}, {TargetSize + 200, false}}, TargetSize + 200},
		{"strict after ignored loose", 2 * MaxSize, []plant{{20000, false}, {30000, true}}, 30000},
		{"cut in short input", MinSize + 10, []plant{{MinSize + 5, true}}, MinSize + 5},
		{"cut at the end of short input", MinSize + 10, []plant{{MinSize + 10, true}}, MinSize + 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{k.bg}, tt.n)
			for _, p := range tt.plants {
				w := k.loose
				if p.strict {
					w = k.strict
				}
				copy(data[p.end-window:p.end], w)
			}
			if got := Boundary(data); got != tt.want {
				t.Errorf("Boundary = %d, want %d", got, tt.want)
			}
			if got := refBoundary(data); got != tt.want {
				t.Errorf("reference = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBoundaryReadsAtMostMaxSize(t *testing.T) {
	data := randomBytes(20, 4*MaxSize)
	for off := 0; off < len(data)-MaxSize; off += 12345 {
		d := data[off:]
		if got, want := Boundary(d), Boundary(d[:MaxSize]); got != want {
			t.Fatalf("offset %d: Boundary = %d on the whole input, %d on its first MaxSize bytes", off, got, want)
		}
	}
}

func TestInvariants(t *testing.T) {
	rnd := randomBytes(30, 3<<20)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{7}},
		{"MinSize-1", rnd[:MinSize-1]},
		{"MinSize", rnd[:MinSize]},
		{"MinSize+1", rnd[:MinSize+1]},
		{"MaxSize", rnd[:MaxSize]},
		{"MaxSize+1", rnd[:MaxSize+1]},
		{"random", rnd},
		{"zeros", make([]byte, 1<<20+17)},
		{"csv", csvBytes(31, 1<<20)},
		{"longer than the buffer", randomBytes(32, 3*bufSize+5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, bytes.NewReader(tt.data), tt.data)
			checkInvariants(t, got, len(tt.data))
			if want := cutAll(tt.data, Boundary); !slices.Equal(got, want) {
				t.Fatalf("Chunker cuts %v, Boundary cuts %v", head(got), head(want))
			}
		})
	}
}

func TestReaderSplitIndependence(t *testing.T) {
	data := slices.Concat(randomBytes(40, 1<<20), make([]byte, 300_000), csvBytes(41, 512<<10), randomBytes(42, 777))
	want := cutAll(data, Boundary)
	tests := []struct {
		name string
		r    func() io.Reader
	}{
		{"whole", func() io.Reader { return bytes.NewReader(data) }},
		{"one byte", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }},
		{"half", func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) }},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) }},
		{"odd sizes", func() io.Reader {
			return &splitReader{data: data, sizes: []int{1, MaxSize - 1, 3, 65536, MinSize + 1, 1 << 20, 200_001}}
		}},
		{"empty reads", func() io.Reader { return &splitReader{data: data, sizes: []int{0, 0, 5000, 0, 99_999}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readAll(t, tt.r(), data); !slices.Equal(got, want) {
				t.Fatalf("cuts %v, want %v", head(got), head(want))
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	data := randomBytes(50, 3*MaxSize)
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"error at once", iotest.ErrReader(errBoom), errBoom},
		{"error after data", &failReader{data: data, err: errBoom}, errBoom},
		{"unexpected EOF", &failReader{data: data, err: io.ErrUnexpectedEOF}, io.ErrUnexpectedEOF},
		{"timeout", iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(data))), iotest.ErrTimeout},
		{"no progress", &splitReader{data: data, sizes: []int{0}}, io.ErrNoProgress},
		{"bad count", badCountReader{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.r)
			var err error
			for range 100 {
				if _, err = c.Next(); err != nil {
					break
				}
			}
			if err == nil || err == io.EOF {
				t.Fatalf("Next returned %v, want a read error", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Next error = %v, want one wrapping %v", err, tt.want)
			}
			if _, again := c.Next(); again != err {
				t.Fatalf("after %v, Next returned %v; the error must stick", err, again)
			}
		})
	}
}

// badCountReader claims to have read more than it was given room for.
type badCountReader struct{}

func (badCountReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

func TestResetReusesBuffer(t *testing.T) {
	data := randomBytes(60, 1<<20)
	r := bytes.NewReader(data)
	c := New(r)
	want := readAll(t, bytes.NewReader(data), data)
	allocs := testing.AllocsPerRun(5, func() {
		r.Reset(data)
		c.Reset(r)
		i := 0
		for {
			chunk, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil || i >= len(want) || len(chunk) != want[i] {
				t.Fatalf("chunk %d: %d bytes, %v", i, len(chunk), err)
			}
			i++
		}
	})
	if allocs != 0 {
		t.Fatalf("chunking 1 MiB after Reset allocated %v times, want 0", allocs)
	}
}

// chunkIDs returns the ids of data's chunks, in order.
func chunkIDs(data []byte) []cas.ID {
	var ids []cas.ID
	for len(data) > 0 {
		n := Boundary(data)
		ids = append(ids, cas.Sum(data[:n]))
		data = data[n:]
	}
	return ids
}

func TestShiftResilience(t *testing.T) {
	base := randomBytes(70, 4<<20)
	csv := csvBytes(71, 2<<20)
	insert := func(d []byte, at int, extra []byte) []byte { return slices.Concat(d[:at], extra, d[at:]) }
	tests := []struct {
		name     string
		old, new []byte
		maxNew   int  // most chunks of new that old lacks
		tailOnly bool // only the last old chunk may be lost
	}{
		{"insert 100 B near start", base, insert(base, 1000, randomBytes(72, 100)), 2, false},
		{"insert 100 B in the middle", base, insert(base, 2<<20, randomBytes(73, 100)), 2, false},
		{"insert into csv", csv, insert(csv, 1<<20, []byte("17,3.1400,user1,abc\n")), 2, false},
		{"delete 100 B", base, slices.Concat(base[:5000], base[5100:]), 2, false},
		{"append 1%", base, slices.Concat(base, randomBytes(74, len(base)/100)), 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldIDs, newIDs := chunkIDs(tt.old), chunkIDs(tt.new)
			have := make(map[cas.ID]bool, len(oldIDs))
			for _, id := range oldIDs {
				have[id] = true
			}
			fresh := 0
			for _, id := range newIDs {
				if !have[id] {
					fresh++
				}
			}
			if fresh == 0 || fresh > tt.maxNew {
				t.Fatalf("%d of %d chunks are new, want 1..%d", fresh, len(newIDs), tt.maxNew)
			}
			if tt.tailOnly && !slices.Equal(oldIDs[:len(oldIDs)-1], newIDs[:len(oldIDs)-1]) {
				t.Fatalf("appending changed chunks before the old last one")
			}
		})
	}
}

func TestDistribution(t *testing.T) {
	lens := cutAll(randomBytes(80, 16<<20), Boundary)
	sum, forced := 0, 0
	for _, n := range lens[:len(lens)-1] {
		sum += n
		if n == MaxSize {
			forced++
		}
	}
	mean := float64(sum) / float64(len(lens)-1)
	t.Logf("%d chunks, mean %.1f KiB, %d cut at MaxSize", len(lens), mean/1024, forced)
	if mean < 60<<10 || mean > 70<<10 {
		t.Fatalf("mean chunk size on random data is %.1f KiB, want 60-70 KiB", mean/1024)
	}
	if forced > len(lens)/100 {
		t.Fatalf("%d of %d chunks cut at MaxSize, want under 1%%", forced, len(lens))
	}
}
