package datadiff

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// MaxMetricsSize bounds a metrics file: one larger is not parsed (it is
// reported as too large), so that a mistaken pattern cannot make diff
// read a dataset into memory.
const MaxMetricsSize = 4 << 20

// maxMetrics bounds the number of values one metrics file yields.
const maxMetrics = 100_000

// ErrMetricsFormat is wrapped by ParseMetrics for content that is not a
// metrics file of its format.
var ErrMetricsFormat = errors.New("not a metrics file")

// Value is one metric: its text as the file writes it, and its number
// when it is one.
type Value struct {
	Text    string
	Num     float64
	Numeric bool
}

func numberValue(text string) Value {
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{Text: text}
	}
	return Value{Text: strings.TrimSpace(text), Num: f, Numeric: true}
}

// DefaultMetricsNames are the base names taken for metrics files when
// none are configured.
var DefaultMetricsNames = []string{"metrics.json", "metrics.yaml", "metrics.yml", "metrics.csv"}

// IsDefaultMetrics reports whether p's base name is one of
// DefaultMetricsNames.
func IsDefaultMetrics(p string) bool {
	base := path.Base(p)
	for _, n := range DefaultMetricsNames {
		if base == n {
			return true
		}
	}
	return false
}

// ParseMetrics reads a metrics file of the format its name's extension
// says (.json; .yaml or .yml; .csv or .tsv; anything else is tried as
// JSON, then YAML) and returns its values by flattened key: nested maps
// and lists give "a.b.c" and "a.0". A CSV is either a header and one row
// (keys are the columns), a header and several rows (keys "ROW.COLUMN",
// ROW counting data rows from 0), or rows of two fields "key,value" (a
// first row whose value is not a number is taken as a header). Errors
// wrap ErrMetricsFormat.
func ParseMetrics(name string, data []byte) (map[string]Value, error) {
	if len(data) > MaxMetricsSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMetricsFormat, len(data), MaxMetricsSize)
	}
	out := map[string]Value{}
	var err error
	switch strings.ToLower(path.Ext(name)) {
	case ".json":
		err = parseJSON(data, out)
	case ".yaml", ".yml":
		err = parseYAML(data, out)
	case ".csv":
		err = parseCSV(data, ',', out)
	case ".tsv":
		err = parseCSV(data, '\t', out)
	default:
		if err = parseJSON(data, out); err != nil {
			clear(out)
			err = parseYAML(data, out)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetricsFormat, err)
	}
	return out, nil
}

type flattener struct {
	out map[string]Value
	err error
}

func (f *flattener) put(key string, v Value) {
	if f.err != nil {
		return
	}
	if len(f.out) >= maxMetrics {
		f.err = fmt.Errorf("more than %d values", maxMetrics)
		return
	}
	if key == "" {
		key = "(value)"
	}
	f.out[key] = v
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func (f *flattener) walk(prefix string, v any, depth int) {
	if depth > 64 {
		f.err = errors.New("nested more than 64 levels")
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			f.walk(join(prefix, k), e, depth+1)
		}
	case map[any]any:
		for k, e := range x {
			f.walk(join(prefix, fmt.Sprint(k)), e, depth+1)
		}
	case []any:
		for i, e := range x {
			f.walk(join(prefix, strconv.Itoa(i)), e, depth+1)
		}
	case json.Number:
		f.put(prefix, numberValue(x.String()))
	case int:
		f.put(prefix, Value{Text: strconv.Itoa(x), Num: float64(x), Numeric: true})
	case int64:
		f.put(prefix, Value{Text: strconv.FormatInt(x, 10), Num: float64(x), Numeric: true})
	case uint64:
		f.put(prefix, Value{Text: strconv.FormatUint(x, 10), Num: float64(x), Numeric: true})
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			f.put(prefix, Value{Text: strconv.FormatFloat(x, 'g', -1, 64)})
			return
		}
		f.put(prefix, Value{Text: strconv.FormatFloat(x, 'g', -1, 64), Num: x, Numeric: true})
	case nil:
		f.put(prefix, Value{Text: "null"})
	case string:
		f.put(prefix, Value{Text: x})
	default:
		f.put(prefix, Value{Text: fmt.Sprint(x)})
	}
}

func parseJSON(data []byte, out map[string]Value) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("JSON: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("JSON: more than one value")
	}
	f := &flattener{out: out}
	f.walk("", v, 0)
	return f.err
}

func parseYAML(data []byte, out map[string]Value) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("YAML: %v", err)
	}
	f := &flattener{out: out}
	f.walk("", v, 0)
	return f.err
}

func parseCSV(data []byte, sep rune, out map[string]Value) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = sep
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	recs, err := r.ReadAll()
	if err != nil {
		return fmt.Errorf("CSV: %v", err)
	}
	if len(recs) == 0 {
		return errors.New("CSV: empty")
	}
	f := &flattener{out: out}
	// key,value rows: two fields each, and no data row starts with a
	// number (which would make it a row of values under a header).
	kv := true
	for i, rec := range recs {
		if len(rec) != 2 || (i > 0 && numberValue(rec[0]).Numeric) {
			kv = false
			break
		}
	}
	switch {
	case kv:
		for i, rec := range recs {
			if i == 0 && !numberValue(rec[1]).Numeric {
				continue // a header
			}
			f.put(rec[0], numberValue(rec[1]))
		}
	case len(recs) == 1:
		return errors.New("CSV: a header without a row")
	case len(recs) == 2:
		for i, col := range recs[0] {
			if i < len(recs[1]) {
				f.put(col, numberValue(recs[1][i]))
			}
		}
	default:
		for n, rec := range recs[1:] {
			for i, col := range recs[0] {
				if i < len(rec) {
					f.put(join(strconv.Itoa(n), col), numberValue(rec[i]))
				}
			}
		}
	}
	return f.err
}

// MetricChange is one metric that differs between two versions of a
// metrics file. Old or New is nil when the metric is only on one side.
type MetricChange struct {
	Key      string
	Old, New *Value
	// Delta is New - Old when both are numbers.
	Delta    float64
	HasDelta bool
}

// DiffMetrics lists the metrics whose values differ (as numbers when both
// are, else as text), by key.
func DiffMetrics(old, new map[string]Value) []MetricChange {
	keys := make([]string, 0, len(old)+len(new))
	for k := range old {
		keys = append(keys, k)
	}
	for k := range new {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []MetricChange
	for _, k := range keys {
		o, inOld := old[k]
		n, inNew := new[k]
		c := MetricChange{Key: k}
		if inOld {
			c.Old = &o
		}
		if inNew {
			c.New = &n
		}
		switch {
		case inOld && inNew && o.Numeric && n.Numeric:
			if o.Num == n.Num {
				continue
			}
			c.Delta, c.HasDelta = n.Num-o.Num, true
		case inOld && inNew:
			if o.Text == n.Text {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
