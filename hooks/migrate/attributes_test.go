package migrate

import "testing"

func TestRewriteAttributes(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		changed  bool
	}{
		{"*.bin filter=lfs diff=lfs merge=lfs -text\n", "*.bin filter=lode -text\n", true},
		{"*.bin filter=lfs diff=lfs merge=lfs\n", "*.bin filter=lode -text\n", true},
		{"*.psd filter=lfs diff=lfs merge=lfs -text lockable\r\n", "*.psd filter=lode -text lockable\r\n", true},
		{"  data/** filter=lfs -text", "  data/** filter=lode -text", true},
		{`"with space.bin" filter=lfs diff=lfs merge=lfs -text` + "\n", `"with space.bin" filter=lode -text` + "\n", true},
		{"# *.bin filter=lfs\n*.txt text\n\n", "# *.bin filter=lfs\n*.txt text\n\n", false},
		{"*.csv filter=lode -text\n", "*.csv filter=lode -text\n", false},
		{"filter=lfs\n", "filter=lfs\n", false}, // a pattern, no attributes
		{"*.x myfilter=lfs\n", "*.x myfilter=lfs\n", false},
		{"*.a text\n*.b filter=lfs diff=lfs merge=lfs -text\n*.c -diff", "*.a text\n*.b filter=lode -text\n*.c -diff", true},
	} {
		got, changed := RewriteAttributes([]byte(tc.in))
		if string(got) != tc.want || changed != tc.changed {
			t.Errorf("RewriteAttributes(%q) = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
		}
	}
}
