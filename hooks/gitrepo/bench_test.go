package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// bigTree builds, with git fast-import, one commit whose tree has files
// files in 100 directories of 10 subdirectories each: one in ten is a
// pointer, one in ten a 4 KiB file, the rest small text files that must be
// read to be told apart from pointers (the worst case for the walk).
func bigTree(b *testing.B, files int) (*Repo, plumbing.Hash, int) {
	b.Helper()
	tr := newTestRepo(b)
	var in bytes.Buffer
	big := bytes.Repeat([]byte("0123456789abcdef"), 256)
	pointers := 0
	in.WriteString("commit refs/heads/main\ncommitter T <t@example.com> 1700000000 +0000\ndata 3\nbig\n")
	for i := range files {
		var content []byte
		switch i % 10 {
		case 0:
			content = ptr(fmt.Sprint(i)).Encode()
			pointers++
		case 1:
			content = append(fmt.Appendf(nil, "%d\n", i), big...)
		default:
			content = fmt.Appendf(nil, "a small text file, number %d\n", i)
		}
		fmt.Fprintf(&in, "M 100644 inline d%02d/s%d/f%06d\ndata %d\n", i%100, i/100%10, i, len(content))
		in.Write(content)
		in.WriteByte('\n')
	}
	tr.runStdin(".", in.Bytes(), "fast-import", "--quiet")
	r := tr.open()
	h, err := r.Resolve("main")
	if err != nil {
		b.Fatal(err)
	}
	return r, h, pointers
}

// BenchmarkPointers100k walks a 100,000-file tree from one pack.
func BenchmarkPointers100k(b *testing.B) {
	r, h, want := bigTree(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := r.Pointers(context.Background(), h, func(Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != want {
			b.Fatalf("found %d pointers, want %d", n, want)
		}
	}
}

// BenchmarkReachablePointers100k lists the pointers of the same tree with
// ReachablePointers (blob and tree sets on).
func BenchmarkReachablePointers100k(b *testing.B) {
	r, h, want := bigTree(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := r.ReachablePointers(context.Background(), []plumbing.Hash{h}, nil, func(plumbing.Hash, Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != want {
			b.Fatalf("found %d pointers, want %d", n, want)
		}
	}
}
