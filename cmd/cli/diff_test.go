package cli

import (
	"testing"

	"github.com/lodevcs/lode/hooks/datadiff"
)

func TestDeltaText(t *testing.T) {
	num := func(f float64) *datadiff.Value { return &datadiff.Value{Num: f, Numeric: true} }
	for _, tc := range []struct {
		c    datadiff.MetricChange
		want string
	}{
		{datadiff.MetricChange{Old: num(0.81), New: num(0.875), Delta: 0.875 - 0.81, HasDelta: true}, "+0.065"},
		{datadiff.MetricChange{Delta: -0.1, HasDelta: true}, "-0.1"},
		{datadiff.MetricChange{Delta: 500, HasDelta: true}, "+500"},
		{datadiff.MetricChange{Delta: 1234567.891, HasDelta: true}, "+1234570"},
		{datadiff.MetricChange{Delta: 1e-9, HasDelta: true}, "+1e-09"},
		{datadiff.MetricChange{Delta: 3e20, HasDelta: true}, "+3e+20"},
		{datadiff.MetricChange{Old: &datadiff.Value{Text: "a"}, New: &datadiff.Value{Text: "b"}}, "changed"},
		{datadiff.MetricChange{New: num(1)}, "-"},
	} {
		if got := deltaText(tc.c); got != tc.want {
			t.Errorf("deltaText(%v) = %q, want %q", tc.c.Delta, got, tc.want)
		}
	}
}

func TestMarkdownCells(t *testing.T) {
	for in, want := range map[string]string{"a|b": `a\|b`, "": " ", "x\ny": "x y", `back\slash`: `back\\slash`} {
		if got := mdCell(in); got != want {
			t.Errorf("mdCell(%q) = %q, want %q", in, got, want)
		}
	}
	if got := mdCode("a`b"); got != "`a'b`" {
		t.Errorf("mdCode: %q", got)
	}
}

func TestCostText(t *testing.T) {
	for _, tc := range []struct {
		c    datadiff.Cost
		want string
	}{
		{datadiff.Cost{Known: true, StoredKnown: true}, "nothing"},
		{datadiff.Cost{Known: true, StoredKnown: true, Chunks: 1, Raw: 2048, Stored: 1024}, "1.0 KiB (2.0 KiB before compression, 1 chunk)"},
		{datadiff.Cost{Known: true, Chunks: 2, Raw: 2048, StoredUnknown: "why"}, "2.0 KiB before compression, 2 chunks (compressed size unknown: why)"},
		{datadiff.Cost{Unknown: "no remote"}, "unknown (no remote)"},
	} {
		if got := costText(tc.c); got != tc.want {
			t.Errorf("costText(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}
