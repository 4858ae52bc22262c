package gitrepo

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestLooseHead reads loose objects written by git and by hand (damaged
// ones), and checks packed objects are left to go-git.
func TestLooseHead(t *testing.T) {
	tr := newTestRepo(t)
	objects := filepath.Join(tr.dir, ".git", "objects")
	hashOf := func(content string) plumbing.Hash {
		return plumbing.NewHash(strings.TrimSpace(tr.runStdin(".", []byte(content), "hash-object", "-w", "--stdin")))
	}
	// writeRaw stores a hand-made loose object under a made-up name.
	n := 0
	writeRaw := func(raw []byte, trim int) plumbing.Hash {
		n++
		h := plumbing.NewHash(fmt.Sprintf("%040x", 0xdead0000+n))
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		hex := h.String()
		os.MkdirAll(filepath.Join(objects, hex[:2]), 0o755)
		if err := os.WriteFile(filepath.Join(objects, hex[:2], hex[2:]), buf.Bytes()[:buf.Len()-trim], 0o444); err != nil {
			t.Fatal(err)
		}
		return h
	}
	small := hashOf("hello\n")
	empty := hashOf("")
	big := hashOf(strings.Repeat("x", 5000))
	// A blob whose loose file is larger than what the fast path reads:
	// its size comes from the header; its content is go-git's to read.
	random := make([]byte, 3*looseHeadMax)
	for i := range random {
		random[i] = byte(i*7919 ^ i>>3 ^ i>>11)
	}
	huge := hashOf(string(random))
	tr.write("f", []byte("tree content\n"), 0o644)
	tr.commit("c")
	tree := plumbing.NewHash(strings.TrimSpace(tr.git("rev-parse", "HEAD^{tree}")))
	tests := []struct {
		name    string
		h       plumbing.Hash
		max     int64
		size    int64
		content string
		err     string // "" no error; "notloose" errNotLoose
	}{
		{"small", small, 100, 6, "hello\n", ""},
		{"empty", empty, 100, 0, "", ""},
		{"over max", big, 100, 5000, "", ""},
		{"at max", big, 5000, 5000, strings.Repeat("x", 5000), ""},
		{"big file, head only", huge, 100, int64(len(random)), "", ""},
		{"big file, wanted whole", huge, int64(len(random)), 0, "", "loose object"},
		{"over the content bound", hashOf(strings.Repeat("y", 2<<20)), 4 << 20, 0, "", "more than the fast path"},
		{"missing", plumbing.NewHash(strings.Repeat("ab", 20)), 100, 0, "", "notloose"},
		{"a tree", tree, 100, 0, "", "not a blob"},
		{"shorter than header", writeRaw([]byte("blob 10\x00abc"), 0), 100, 0, "", "read 3 of 10"},
		{"longer than header", writeRaw([]byte("blob 2\x00abc"), 0), 100, 0, "", "longer than"},
		{"bad size", writeRaw([]byte("blob -1\x00"), 0), 100, 0, "", "bad size"},
		{"no header end", writeRaw([]byte("blob "+strings.Repeat("1", 40)), 0), 100, 0, "", "header too long"},
		{"cut checksum", writeRaw([]byte("blob 3\x00abc"), 2), 100, 0, "", "loose object"},
		{"not zlib", writeRawPlain(t, objects, "blob 3\x00abc"), 100, 0, "", "loose object"},
	}
	r := tr.open()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.mu.Lock()
			size, content, err := r.loose.head(tc.h, tc.max)
			r.mu.Unlock()
			switch {
			case tc.err == "notloose":
				if !errors.Is(err, errNotLoose) {
					t.Fatalf("err = %v, want errNotLoose", err)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case size != tc.size || string(content) != tc.content:
				t.Fatalf("head = %d %q, want %d %q", size, content, tc.size, tc.content)
			}
		})
	}
	// BlobHead falls back to go-git where the fast path gives up.
	if size, content, err := r.BlobHead(huge, int64(len(random))); err != nil || size != int64(len(random)) || string(content) != string(random) {
		t.Fatalf("BlobHead of a big loose blob = %d, %d bytes, %v", size, len(content), err)
	}
	// Once packed, the same blob is go-git's to read, with the same answer.
	tr.git("repack", "-adq")
	tr.git("prune-packed")
	f := plumbing.NewHash(strings.TrimSpace(tr.git("rev-parse", "HEAD:f")))
	r2 := tr.open()
	r2.mu.Lock()
	_, _, err := r2.loose.head(f, 100)
	r2.mu.Unlock()
	if !errors.Is(err, errNotLoose) {
		t.Fatalf("packed blob: err = %v, want errNotLoose", err)
	}
	if size, content, err := r2.BlobHead(f, 100); err != nil || size != 13 || string(content) != "tree content\n" {
		t.Fatalf("BlobHead of a packed blob = %d %q %v", size, content, err)
	}
}

// writeRawPlain stores bytes that are not zlib as a loose object.
func writeRawPlain(t *testing.T, objects, raw string) plumbing.Hash {
	h := plumbing.NewHash(strings.Repeat("cd", 20))
	hex := h.String()
	os.MkdirAll(filepath.Join(objects, hex[:2]), 0o755)
	if err := os.WriteFile(filepath.Join(objects, hex[:2], hex[2:]), []byte(raw), 0o444); err != nil {
		t.Fatal(err)
	}
	return h
}
