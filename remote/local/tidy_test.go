package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Files a killed writer left in .tmp go once they are old; young ones
// (a Put in progress) stay.
func TestNewTidiesOldTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, tmpDir)
	os.MkdirAll(tmp, 0o755)
	old, young := filepath.Join(tmp, "put-old"), filepath.Join(tmp, "put-young")
	os.WriteFile(old, []byte("x"), 0o644)
	os.WriteFile(young, []byte("x"), 0o644)
	then := time.Now().Add(-2 * tmpGrace)
	os.Chtimes(old, then, then)
	if _, err := New(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("old temporary file still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("young temporary file removed: %v", err)
	}
}
