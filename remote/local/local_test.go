package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/local"
	"github.com/lodevcs/lode/remote/remotetest"
)

func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Backend {
		b, err := local.New(filepath.Join(t.TempDir(), "store"), local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func newBackend(t *testing.T) (*local.Backend, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := local.New(dir, local.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return b, dir
}

func put(t *testing.T, b remote.Backend, name string, data []byte) error {
	t.Helper()
	return b.Put(context.Background(), name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
}

func TestLayout(t *testing.T) {
	b, dir := newBackend(t)
	if err := put(t, b, "packs/ab.pack", []byte("pack")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "packs", "ab.pack"))
	if err != nil || string(got) != "pack" {
		t.Fatalf("file: %q, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "packs", "ab.pack"))
	if err != nil {
		t.Fatal(err)
	}
	// As os.WriteFile(..., 0o644) would make it, the umask applied.
	ref := filepath.Join(t.TempDir(), "ref")
	if err := os.WriteFile(ref, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if want, _ := os.Stat(ref); fi.Mode() != want.Mode() {
		t.Errorf("mode %v, want %v", fi.Mode(), want.Mode())
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, ".tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestTempFilesHidden(t *testing.T) {
	b, dir := newBackend(t)
	if err := put(t, b, "x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// A writer killed mid-Put leaves a file in .tmp/.
	if err := os.WriteFile(filepath.Join(dir, ".tmp", "put-stale"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := b.List(context.Background(), "", remote.ListOptions{}, func(i remote.Info) error {
		names = append(names, i.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "x" {
		t.Errorf("List = %q, want [x]", names)
	}
	for _, name := range []string{".tmp/put-stale", ".tmp"} {
		if _, err := b.Stat(context.Background(), name); !errors.Is(err, remote.ErrInvalidName) {
			t.Errorf("Stat %s: %v, want ErrInvalidName", name, err)
		}
	}
}

func TestMissingRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	b, err := local.New(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.List(context.Background(), "", remote.ListOptions{}, func(remote.Info) error { return errors.New("called") }); err != nil {
		t.Errorf("List of a missing root: %v", err)
	}
	if _, err := b.Stat(context.Background(), "x"); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("Stat: %v", err)
	}
	if err := put(t, b, "a/b", []byte("ab")); err != nil {
		t.Fatalf("Put creating the root: %v", err)
	}
}

func TestRootIsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := local.New(f, local.Options{}); err == nil {
		t.Error("New on a regular file succeeded")
	}
}

func TestPermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	b, dir := newBackend(t)
	if err := put(t, b, "locked/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "locked"), 0o755) })
	if _, err := b.Stat(context.Background(), "locked/x"); !errors.Is(err, remote.ErrPermission) {
		t.Errorf("Stat: %v, want ErrPermission", err)
	}
	if err := put(t, b, "locked/y", []byte("y")); !errors.Is(err, remote.ErrPermission) {
		t.Errorf("Put: %v, want ErrPermission", err)
	}
}
