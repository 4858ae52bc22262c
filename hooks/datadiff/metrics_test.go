package datadiff

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
)

func flat(m map[string]Value) string {
	var ks []string
	for k, v := range m {
		n := "s"
		if v.Numeric {
			n = "n"
		}
		ks = append(ks, fmt.Sprintf("%s=%s(%s)", k, v.Text, n))
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

func TestParseMetrics(t *testing.T) {
	for _, tc := range []struct {
		name, file, data, want, err string
	}{
		{name: "json nested", file: "metrics.json", data: `{"acc": 0.9, "loss": {"train": 0.5, "val": 1e-3}, "n": 10}`,
			want: "acc=0.9(n) loss.train=0.5(n) loss.val=1e-3(n) n=10(n)"},
		{name: "json list and others", file: "m.json", data: `{"a": [1, {"b": 2}], "s": "text", "t": true, "z": null}`,
			want: "a.0=1(n) a.1.b=2(n) s=text(s) t=true(s) z=null(s)"},
		{name: "json scalar", file: "m.json", data: `3.5`, want: "(value)=3.5(n)"},
		{name: "json bad", file: "m.json", data: `{"a": `, err: "JSON"},
		{name: "json two values", file: "m.json", data: `{} {}`, err: "more than one"},
		{name: "yaml", file: "metrics.yaml", data: "acc: 0.9\nloss:\n  train: 0.5\nname: run1\nepochs: 3\n",
			want: "acc=0.9(n) epochs=3(n) loss.train=0.5(n) name=run1(s)"},
		{name: "yml bad", file: "x.yml", data: "a: [1,\n", err: "YAML"},
		{name: "csv header row", file: "metrics.csv", data: "acc,loss\n0.9,0.1\n", want: "acc=0.9(n) loss=0.1(n)"},
		{name: "csv key value", file: "metrics.csv", data: "acc,0.9\nloss,0.1\n", want: "acc=0.9(n) loss=0.1(n)"},
		{name: "csv key value with header", file: "metrics.csv", data: "metric,value\nacc,0.9\nloss,n/a\n", want: "acc=0.9(n) loss=n/a(s)"},
		{name: "csv rows", file: "m.csv", data: "epoch,acc\n1,0.5\n2,0.6\n", want: "0.acc=0.5(n) 0.epoch=1(n) 1.acc=0.6(n) 1.epoch=2(n)"},
		{name: "tsv", file: "m.tsv", data: "acc\tloss\n0.9\t0.1\n", want: "acc=0.9(n) loss=0.1(n)"},
		{name: "csv header only", file: "m.csv", data: "acc,loss,f1\n", err: "header without a row"},
		{name: "unknown extension json", file: "metrics", data: `{"a": 1}`, want: "a=1(n)"},
		{name: "unknown extension yaml", file: "metrics.txt", data: "a: 1\n", want: "a=1(n)"},
		{name: "nan is not a number", file: "m.json", data: `{"a": "NaN"}`, want: "a=NaN(s)"},
		{name: "too deep", file: "m.json", data: strings.Repeat("[", 100) + strings.Repeat("]", 100), err: "nested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMetrics(tc.file, []byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrMetricsFormat) {
					t.Fatalf("err %v, want one containing %q wrapping ErrMetricsFormat", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := flat(m); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseMetricsTooLarge(t *testing.T) {
	if _, err := ParseMetrics("m.json", make([]byte, MaxMetricsSize+1)); !errors.Is(err, ErrMetricsFormat) {
		t.Fatalf("err %v", err)
	}
}

func TestDiffMetrics(t *testing.T) {
	old, _ := ParseMetrics("m.json", []byte(`{"acc": 0.9, "same": 1, "gone": 2, "name": "a", "kind": "x", "int": 3}`))
	new, _ := ParseMetrics("m.json", []byte(`{"acc": 0.95, "same": 1.0, "added": 5, "name": "b", "kind": 4, "int": 1}`))
	var got []string
	for _, c := range DiffMetrics(old, new) {
		s := c.Key + ":"
		if c.Old != nil {
			s += c.Old.Text
		}
		s += ">"
		if c.New != nil {
			s += c.New.Text
		}
		if c.HasDelta {
			s += fmt.Sprintf("(%.3g)", c.Delta)
		}
		got = append(got, s)
	}
	want := "acc:0.9>0.95(0.05) added:>5 gone:2> int:3>1(-2) kind:x>4 name:a>b"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestIsDefaultMetrics(t *testing.T) {
	for p, want := range map[string]bool{"metrics.json": true, "eval/metrics.yaml": true, "a/b/metrics.csv": true, "metrics.yml": true,
		"metrics.json.bak": false, "mymetrics.json": false, "metrics": false} {
		if IsDefaultMetrics(p) != want {
			t.Errorf("IsDefaultMetrics(%q) = %v", p, !want)
		}
	}
}
