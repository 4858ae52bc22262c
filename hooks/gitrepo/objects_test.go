package gitrepo

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"
)

func TestReadTreeAndBlobs(t *testing.T) {
	tr := newTestRepo(t)
	tr.write("a.txt", []byte("hello\n"), 0o644)
	tr.write("sub/b.txt", []byte("nested\n"), 0o644)
	head := tr.commit("c")
	r := tr.open()
	root, err := r.CommitTree(head)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := r.ReadTree(root)
	if err != nil || len(ents) != 2 || ents[0].Name != "a.txt" || ents[1].Mode != filemode.Dir {
		t.Fatalf("ReadTree = %+v, %v", ents, err)
	}
	size, content, err := r.BlobHead(ents[0].Hash, 100)
	if err != nil || size != 6 || string(content) != "hello\n" {
		t.Fatalf("BlobHead = %d %q %v", size, content, err)
	}
	if size, content, _ := r.BlobHead(ents[0].Hash, 3); size != 6 || content != nil {
		t.Fatalf("BlobHead over max = %d %q", size, content)
	}
	b, err := r.ReadBlob(ents[0].Hash)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("ReadBlob = %q, %v", b, err)
	}
	if _, err := r.ReadTree(ents[0].Hash); err == nil {
		t.Fatal("ReadTree of a blob succeeded")
	}
}

func TestIndexBlobs(t *testing.T) {
	tr := newTestRepo(t)
	r := tr.open()
	if m, err := r.IndexBlobs(); err != nil || len(m) != 0 {
		t.Fatalf("no index: %v, %v", m, err)
	}
	tr.write("a.txt", []byte("hello\n"), 0o644)
	tr.write("sub/run.sh", []byte("#!/bin/sh\n"), 0o755)
	tr.commit("c")
	tr.git("update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("1", 40)+",mod")
	m, err := r.IndexBlobs()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.txt": tr.git("rev-parse", ":a.txt"), "sub/run.sh": tr.git("rev-parse", ":sub/run.sh")}
	if len(m) != len(want) {
		t.Fatalf("IndexBlobs = %v, want %v (no submodule)", m, want)
	}
	for p, h := range want {
		if m[p].String() != strings.TrimSpace(h) {
			t.Errorf("%s: %s, want %s", p, m[p], h)
		}
	}
}
