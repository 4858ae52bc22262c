package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What users type for 'git lode track' becomes a pattern git applies to
// the files they meant.
func TestTrackPattern(t *testing.T) {
	top := t.TempDir()
	for _, d := range []string{"data/img", "sub/x"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix, arg string
		want        string // "" for a usage error
		note        string // a part of the note, "-" for none
	}{
		{"", "*.csv", "*.csv", "-"},
		{"", "data/**", "data/**", "-"},
		{"", "data/", "data/**", "is a directory"},
		{"", "data", "data/**", "is a directory"},
		{"", "./data/img/", "data/img/**", "is a directory"},
		{"", "data/img", "data/img/**", "is a directory"},
		{"", "/data", "data/**", "is a directory"},
		{"", "notadir", "notadir", "-"},
		{"", "/model.bin", "/model.bin", "-"},
		{"", "data/*.csv", "data/*.csv", "-"},
		{"", ".", "**", "is a directory"},
		{"sub/", "x", "sub/x/**", "is a directory"},
		{"sub/", "*.bin", "*.bin", "-"},
		{"sub/", "x/*.bin", "sub/x/*.bin", "from the top"},
		{"sub/", ".", "sub/**", "is a directory"},
		{"sub/", "/data/img", "data/img/**", "is a directory"},
		{"", "!x", "", ""},
		{"", "!*.csv", "", ""},
		{"", "", "", ""},
		{"", "  ", "", ""},
		{"", "a\nb", "", ""},
		{"", "../up", "", ""},
		{"sub/", "x/../../up", "", ""},
	}
	for _, tt := range tests {
		got, note, err := trackPattern(top, tt.prefix, tt.arg)
		if tt.want == "" {
			if err == nil || !isUsageErr(err) {
				t.Errorf("trackPattern(%q, %q) = %q, %v; want a usage error", tt.prefix, tt.arg, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("trackPattern(%q, %q) = %q, %v; want %q", tt.prefix, tt.arg, got, err, tt.want)
		}
		if (tt.note == "-") != (note == "") || (tt.note != "-" && !strings.Contains(note, tt.note)) {
			t.Errorf("trackPattern(%q, %q) note %q, want %q", tt.prefix, tt.arg, note, tt.note)
		}
	}
	_, _, err := trackPattern(top, "", "!x")
	if err == nil || !strings.Contains(err.Error(), `"x -filter"`) {
		t.Errorf("a negative pattern: %v; want the -filter advice", err)
	}
}
