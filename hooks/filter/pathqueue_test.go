package filter

import (
	"fmt"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestPathQueue(t *testing.T) {
	long := strings.Repeat("d/", 200<<10) + "f" // longer than the read buffer
	tests := []struct {
		name   string
		memMax int
		push   int // pathnames pushed first
		takes  []int
		more   int // pushed after the first takes
	}{
		{"in memory", 10, 5, []int{3, 3}, 0},
		{"spilled", 3, 10, []int{2, 2, 4, 100}, 0},
		{"spilled, taken across the memory part", 4, 9, []int{100, 100}, 0},
		{"pushed again after draining", 2, 5, []int{1, 10}, 4},
		{"nothing", 2, 0, []int{5}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			q := pathQueue{dir: dir, memMax: tt.memMax}
			var want, got []delayedFile
			n := 0
			push := func(k int) {
				for range k {
					p := fmt.Sprintf("dir %d/file\n%d", n, n) // spaces and newlines are fine
					if n == 4 {
						p = long
					}
					d := delayedFile{path: p, p: pointer.New(cas.Sum([]byte(p)), int64(n), cas.ID{})}
					if n%2 == 1 {
						d.p = pointer.New(cas.Sum([]byte(p)), int64(n)<<20, cas.Sum([]byte("manifest")))
					}
					n++
					q.Push(d)
					want = append(want, d)
				}
			}
			push(tt.push)
			for i, k := range tt.takes {
				before := q.Len()
				out, err := q.Take(k)
				if err != nil {
					t.Fatal(err)
				}
				if len(out) > k || before > 0 && len(out) == 0 || q.Len() != before-len(out) {
					t.Fatalf("take %d of %d: got %d, Len %d -> %d", i, k, len(out), before, q.Len())
				}
				got = append(got, out...)
				if i == 0 {
					push(tt.more)
				}
			}
			for q.Len() > 0 {
				out, err := q.Take(1000)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, out...)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %d files, want %d (in order, with their pointers)", len(got), len(want))
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("spill file left in %s: %v", dir, ents)
			}
			if q.f != nil {
				t.Error("spill file still open after the queue emptied")
			}
		})
	}
}
