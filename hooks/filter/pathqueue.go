package filter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lodevcs/lode/cas/pointer"
)

// pathQueue holds delayed files (pathname and pointer) in the order they
// come, the first memMax in memory and the rest in an unlinked temporary
// file, so that what it holds in memory is bounded however many files
// wait: the delayed files of a checkout wait until git has sent every
// file, which for a clone of a million files is a million of them. It is
// not safe for concurrent use.
type pathQueue struct {
	dir    string // where the spill file goes
	memMax int

	mem []delayedFile

	f       *os.File // the spill file, or nil
	w       *bufio.Writer
	readOff int64 // where the next pathname to read starts
	spilled int   // pathnames written to f and not yet read
	rbuf    []byte
}

// Len returns the number of files in the queue.
func (q *pathQueue) Len() int { return len(q.mem) + q.spilled }

// Push adds a file. When the spill file cannot be created or written (a
// full disk), the file is held in memory instead; files spilled before a
// write error may be lost with the buffer, and Take then reports the
// error (git is told that the delayed files failed, and names them).
func (q *pathQueue) Push(d delayedFile) {
	if q.spilled == 0 && len(q.mem) < q.memMax || q.spill(d) != nil {
		q.mem = append(q.mem, d)
	}
}

// spill writes d as its pathname (which holds no NUL: git paths cannot),
// a NUL, its pointer's encoding (text), a NUL.
func (q *pathQueue) spill(d delayedFile) error {
	if q.f == nil {
		f, err := os.CreateTemp(q.dir, "delayed-*.paths")
		if err != nil {
			return fmt.Errorf("spill delayed pathnames: %w", err)
		}
		// Unlinked at once: a killed process leaves nothing behind.
		os.Remove(f.Name())
		q.f, q.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	q.w.WriteString(d.path)
	q.w.WriteByte(0)
	q.w.Write(d.p.Encode())
	if err := q.w.WriteByte(0); err != nil { // bufio keeps the first error
		return fmt.Errorf("spill delayed pathnames: %w", err)
	}
	q.spilled++
	return nil
}

// Take removes and returns up to max files (at least one if the queue is
// not empty).
func (q *pathQueue) Take(max int) ([]delayedFile, error) {
	if len(q.mem) > 0 {
		n := min(max, len(q.mem))
		out := q.mem[:n:n]
		q.mem = q.mem[n:]
		if len(q.mem) == 0 {
			q.mem = nil
		}
		return out, nil
	}
	if q.spilled == 0 {
		return nil, nil
	}
	if err := q.w.Flush(); err != nil {
		return nil, fmt.Errorf("read spilled pathnames: %w", err)
	}
	if q.rbuf == nil {
		q.rbuf = make([]byte, 256<<10)
	}
	var out []delayedFile
	for len(out) < max && q.spilled > 0 {
		n, err := q.f.ReadAt(q.rbuf, q.readOff)
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("read spilled pathnames: %w", err)
		}
		b := q.rbuf[:n]
		got := 0
		for len(out) < max && q.spilled > 0 {
			i := bytes.IndexByte(b, 0)
			if i < 0 {
				break
			}
			j := bytes.IndexByte(b[i+1:], 0)
			if j < 0 {
				break
			}
			p, err := pointer.Parse(bytes.Clone(b[i+1 : i+1+j]))
			if err != nil {
				return out, fmt.Errorf("read spilled pathnames: %w", err)
			}
			out = append(out, delayedFile{path: string(b[:i]), p: p})
			b = b[i+1+j+1:]
			got += i + 1 + j + 1
			q.spilled--
		}
		if got == 0 {
			if n < len(q.rbuf) {
				return out, fmt.Errorf("read spilled pathnames: %w", io.ErrUnexpectedEOF)
			}
			// A pathname longer than the buffer.
			q.rbuf = make([]byte, 2*len(q.rbuf))
			continue
		}
		q.readOff += int64(got)
	}
	if q.spilled == 0 {
		q.close()
	}
	return out, nil
}

// close drops the spill file once everything in it was read.
func (q *pathQueue) close() {
	if q.f != nil {
		q.f.Close()
	}
	q.f, q.w, q.readOff, q.rbuf = nil, nil, 0, nil
}
