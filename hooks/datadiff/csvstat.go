package datadiff

import (
	"bytes"
	"encoding/csv"
	"strings"
)

// MaxHeader bounds the header line CSVCounter keeps: the columns of a
// longer header are not known (CSVStats.HeaderTooLong).
const MaxHeader = 1 << 20

// CSVStats describes a CSV file.
type CSVStats struct {
	Rows    int64    // records after the header
	Columns []string // the header's fields; nil when not known
	// HeaderTooLong is set when the header is longer than MaxHeader.
	HeaderTooLong bool
	// HeaderErr is set when the header does not parse as CSV.
	HeaderErr string
}

// CSVCounter counts the records of a CSV file written to it, in memory
// bounded by MaxHeader whatever the lengths of its lines: a newline ends
// a record unless it is inside a quoted field (a blank line is a record,
// as for wc -l). It is an io.Writer; Stats gives the result once the
// whole file is written.
type CSVCounter struct {
	records  int64 // newlines outside quotes
	inQuotes bool
	atStart  bool // nothing of the current record yet
	header   []byte
	inHeader bool
	tooLong  bool
}

// NewCSVCounter returns a counter for one file.
func NewCSVCounter() *CSVCounter { return &CSVCounter{atStart: true, inHeader: true} }

// Write consumes the next bytes of the file. It never fails.
func (c *CSVCounter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.inQuotes {
			c.atStart = false
			q := bytes.IndexByte(p, '"')
			if q < 0 {
				c.keepHeader(p)
				return n, nil
			}
			c.keepHeader(p[:q+1])
			c.inQuotes = false
			p = p[q+1:]
			continue
		}
		q := bytes.IndexByte(p, '"')
		seg := p
		if q >= 0 {
			seg = p[:q]
		}
		if c.inHeader {
			// The header ends at the first newline outside quotes.
			if nl := bytes.IndexByte(seg, '\n'); nl >= 0 {
				c.keepHeader(seg[:nl])
				c.inHeader = false
				c.records++
				c.atStart = true
				p = p[nl+1:]
				continue
			}
			c.keepHeader(seg)
			if len(seg) > 0 {
				c.atStart = false
			}
		} else if len(seg) > 0 {
			c.records += int64(bytes.Count(seg, []byte{'\n'}))
			c.atStart = seg[len(seg)-1] == '\n'
		}
		if q < 0 {
			return n, nil
		}
		c.keepHeader(p[q : q+1])
		c.atStart = false
		c.inQuotes = true
		p = p[q+1:]
	}
	return n, nil
}

func (c *CSVCounter) keepHeader(b []byte) {
	if !c.inHeader || c.tooLong {
		return
	}
	if len(c.header)+len(b) > MaxHeader {
		c.tooLong = true
		c.header = nil
		return
	}
	c.header = append(c.header, b...)
}

// Stats returns the statistics of what was written.
func (c *CSVCounter) Stats() CSVStats {
	rec := c.records
	if !c.atStart {
		rec++ // a last record without a newline
	}
	st := CSVStats{HeaderTooLong: c.tooLong}
	if rec > 0 {
		st.Rows = rec - 1
	}
	if c.tooLong {
		return st
	}
	h := strings.TrimSuffix(string(c.header), "\r")
	if h == "" && rec == 0 {
		return st
	}
	r := csv.NewReader(strings.NewReader(h))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	cols, err := r.Read()
	if err != nil {
		st.HeaderErr = err.Error()
		return st
	}
	st.Columns = cols
	return st
}

// SchemaChange compares two headers: the columns only one has, and, for
// headers of the same length whose sets differ, the columns renamed in
// place.
type SchemaChange struct {
	Added, Removed []string
	Renamed        [][2]string // old, new
	Reordered      bool        // the same columns in another order
}

// Changed reports whether the headers differ.
func (s SchemaChange) Changed() bool {
	return len(s.Added) > 0 || len(s.Removed) > 0 || len(s.Renamed) > 0 || s.Reordered
}

// String words the change, as "added c; removed d; renamed a -> b".
func (s SchemaChange) String() string {
	var parts []string
	if len(s.Renamed) > 0 {
		var r []string
		for _, p := range s.Renamed {
			r = append(r, p[0]+" -> "+p[1])
		}
		parts = append(parts, "renamed "+strings.Join(r, ", "))
	}
	if len(s.Added) > 0 {
		parts = append(parts, "added "+strings.Join(s.Added, ", "))
	}
	if len(s.Removed) > 0 {
		parts = append(parts, "removed "+strings.Join(s.Removed, ", "))
	}
	if s.Reordered {
		parts = append(parts, "columns reordered")
	}
	return strings.Join(parts, "; ")
}

// CompareColumns compares the headers old and new.
func CompareColumns(old, new []string) SchemaChange {
	var s SchemaChange
	inOld := map[string]bool{}
	for _, c := range old {
		inOld[c] = true
	}
	inNew := map[string]bool{}
	for _, c := range new {
		inNew[c] = true
	}
	if len(old) == len(new) {
		// Renamed in place: a position whose old name is gone and whose
		// new name is new.
		for i := range old {
			if old[i] != new[i] && !inNew[old[i]] && !inOld[new[i]] {
				s.Renamed = append(s.Renamed, [2]string{old[i], new[i]})
				inOld[new[i]], inNew[old[i]] = true, true // accounted for
			}
		}
	}
	for _, c := range new {
		if !inOld[c] {
			s.Added = append(s.Added, c)
		}
	}
	for _, c := range old {
		if !inNew[c] {
			s.Removed = append(s.Removed, c)
		}
	}
	if len(s.Added) == 0 && len(s.Removed) == 0 && len(s.Renamed) == 0 {
		for i := range old {
			if i < len(new) && old[i] != new[i] {
				s.Reordered = true
				break
			}
		}
	}
	return s
}
