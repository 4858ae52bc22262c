package datadiff

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
)

// feed writes data to a counter in pieces of n bytes.
func feed(data string, n int) CSVStats {
	c := NewCSVCounter()
	for len(data) > 0 {
		k := min(n, len(data))
		c.Write([]byte(data[:k]))
		data = data[k:]
	}
	return c.Stats()
}

func TestCSVCounter(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		rows       int64
		cols       string
	}{
		{"empty", "", 0, ""},
		{"header only", "a,b\n", 0, "a|b"},
		{"header without newline", "a,b", 0, "a|b"},
		{"rows", "a,b\n1,2\n3,4\n", 2, "a|b"},
		{"last row without newline", "a,b\n1,2\n3,4", 2, "a|b"},
		{"crlf", "a,b\r\n1,2\r\n3,4\r\n", 2, "a|b"},
		{"quoted newline", "a,b\n1,\"x\ny\"\n3,4\n", 2, "a|b"},
		{"quoted header", "\"a,1\",\"b\n2\"\n1,2\n", 1, "a,1|b\n2"},
		{"escaped quotes", "a,b\n1,\"say \"\"hi\"\"\nthere\"\n", 1, "a|b"},
		{"blank line counts", "a\n1\n\n2\n", 3, "a"},
		{"unterminated quote", "a\n\"1\n2\n", 1, "a"},
	} {
		for _, n := range []int{1, 2, 3, 7, 1 << 20} {
			st := feed(tc.data, n)
			if st.Rows != tc.rows || strings.Join(st.Columns, "|") != tc.cols {
				t.Errorf("%s (pieces of %d): rows %d cols %q, want %d %q", tc.name, n, st.Rows, strings.Join(st.Columns, "|"), tc.rows, tc.cols)
			}
		}
	}
}

// hugeLine is a reader of a CSV whose second row is n bytes long.
func hugeLine(n int64) io.Reader {
	return io.MultiReader(strings.NewReader("a,b\n1,"), io.LimitReader(repeat('x'), n), strings.NewReader("\n2,3\n"))
}

type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestCSVCounterHugeLine(t *testing.T) {
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := NewCSVCounter()
	if _, err := io.CopyBuffer(c, hugeLine(256<<20), make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	st := c.Stats()
	if st.Rows != 2 || strings.Join(st.Columns, ",") != "a,b" {
		t.Fatalf("rows %d cols %v", st.Rows, st.Columns)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("heap grew by %d bytes over a 256 MiB line", grew)
	}
}

func TestCSVCounterHugeHeader(t *testing.T) {
	c := NewCSVCounter()
	io.Copy(c, io.MultiReader(io.LimitReader(repeat('h'), MaxHeader+10), strings.NewReader("\n1\n2\n")))
	st := c.Stats()
	if !st.HeaderTooLong || st.Columns != nil || st.Rows != 2 {
		t.Fatalf("%+v", st)
	}
	if len(c.header) != 0 {
		t.Errorf("kept %d bytes of a header that is too long", len(c.header))
	}
}

func TestCompareColumns(t *testing.T) {
	for _, tc := range []struct {
		old, new, want string
	}{
		{"a,b,c", "a,b,c", ""},
		{"a,b,c", "a,b,c,d", "added d"},
		{"a,b,c", "a,c", "removed b"},
		{"a,b,c", "a,x,c", "renamed b -> x"},
		{"a,b,c", "c,b,a", "columns reordered"},
		{"a,b", "x,y,b", "added x, y; removed a"},
	} {
		s := CompareColumns(strings.Split(tc.old, ","), strings.Split(tc.new, ","))
		if s.String() != tc.want || s.Changed() != (tc.want != "") {
			t.Errorf("%s -> %s: %q, want %q", tc.old, tc.new, s.String(), tc.want)
		}
	}
}

func BenchmarkCSVCounter(b *testing.B) {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 8<<20; i++ {
		buf.WriteString("12345,\"Smith, John\",some words here,3.14159\n")
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		c := NewCSVCounter()
		c.Write(buf.Bytes())
	}
}
