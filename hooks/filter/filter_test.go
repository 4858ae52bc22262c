package filter

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
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
		flip(t, pi.Path, pi.Index.PackSize()/2)
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
