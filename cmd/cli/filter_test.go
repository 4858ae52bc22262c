package cli

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
)

// pointerBlobs reads a delayed file's pointer back from git by blob id,
// and refuses what cannot be one.
func TestPointerBlobs(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found:", err)
	}
	dir := t.TempDir()
	git := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	git("", "init", "-q")
	ptr := pointer.New(cas.Sum([]byte("data")), 4, cas.ID{}).String()
	good := git(ptr, "hash-object", "-w", "--stdin")
	big := git(strings.Repeat("x", pointer.MaxLen+1), "hash-object", "-w", "--stdin")
	b := &pointerBlobs{dir: dir}
	defer b.close()
	ctx := context.Background()
	tests := []struct {
		name, blob, want, err string
	}{
		{"a pointer", good, ptr, ""},
		{"not an object id", "../../etc/passwd", "", "is not an object id"},
		{"larger than a pointer", big, "", "more than"},
		{"unknown", strings.Repeat("1", 40), "", "missing"},
		{"a pointer after errors", good, ptr, ""},
	}
	for _, tc := range tests {
		got, err := b.read(ctx, tc.blob)
		switch {
		case tc.err == "" && (err != nil || string(got) != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v; want an error containing %q", tc.name, err, tc.err)
		}
	}
}
