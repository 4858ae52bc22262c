package filterproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// contentReader reads the content section of one request: data packets up
// to a flush packet, which it reports as io.EOF. A failure to read (git
// closed the pipe, a malformed packet) is sticky in err and breaks the
// conversation.
type contentReader struct {
	pr     *pktReader
	remain int   // unread payload bytes of the current packet
	done   bool  // the terminating flush has been read
	err    error // sticky read error
}

func (c *contentReader) reset() {
	c.remain, c.done, c.err = 0, false, nil
}

// next moves to a packet with unread payload. It returns false at the end
// of the content or on error.
func (c *contentReader) next() bool {
	if c.err != nil {
		return false
	}
	for c.remain == 0 {
		if c.done {
			return false
		}
		n, flush, err := c.pr.header()
		if err != nil {
			c.fail(err)
			return false
		}
		if flush {
			c.done = true
			return false
		}
		c.remain = n
	}
	return true
}

func (c *contentReader) fail(err error) {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	c.err = fmt.Errorf("read content: %w", err)
}

func (c *contentReader) end() error {
	if c.err != nil {
		return c.err
	}
	return io.EOF
}

// Read implements io.Reader.
func (c *contentReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !c.next() {
		return 0, c.end()
	}
	if len(p) > c.remain {
		p = p[:c.remain]
	}
	n, err := c.pr.br.Read(p)
	c.remain -= n
	if err != nil {
		c.fail(err)
		if n > 0 {
			return n, nil
		}
		return 0, c.err
	}
	return n, nil
}

// WriteTo implements io.WriterTo: it hands w slices of the read buffer, so
// io.Copy from the content costs no copy of its own. It returns the first
// error of w or of the input.
func (c *contentReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for c.next() {
		// Hand over what is buffered; only when nothing is, wait for
		// one byte, which fills the buffer from an empty state and so
		// never slides data inside it.
		k := min(c.remain, c.pr.br.Buffered())
		if k == 0 {
			if _, err := c.pr.br.Peek(1); err != nil {
				c.fail(err)
				return total, c.err
			}
			k = min(c.remain, c.pr.br.Buffered())
		}
		b, _ := c.pr.br.Peek(k) // buffered: cannot fail
		n, err := w.Write(b)
		_, _ = c.pr.br.Discard(n)
		c.remain -= n
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n < len(b) {
			return total, io.ErrShortWrite
		}
	}
	return total, c.err
}

// drain discards the rest of the content up to its flush packet.
func (c *contentReader) drain() error {
	for c.next() {
		n, err := c.pr.br.Discard(c.remain)
		c.remain -= n
		if err != nil {
			c.fail(err)
		}
	}
	return c.err
}

// spool holds bytes in memory up to limit and in an unlinked temporary
// file in dir beyond that. Its memory is reused after reset.
type spool struct {
	dir   string
	limit int
	mem   []byte
	f     *os.File // non-nil once the content outgrew limit
	name  string   // f's name if it could not be removed while open
	n     int64    // bytes held
}

// Write implements io.Writer.
func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && len(s.mem)+len(p) <= s.limit {
		s.mem = append(s.mem, p...)
		s.n += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		if err := s.spill(); err != nil {
			return 0, err
		}
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("spool: %w", err)
	}
	return n, nil
}

// spill moves the content from memory to a new temporary file.
func (s *spool) spill() error {
	f, err := os.CreateTemp(s.dir, "lode-filter-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	// Unlink at once where the system allows it, so that nothing is left
	// behind even if the process is killed.
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	s.f = f
	if _, err := f.Write(s.mem); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.mem = s.mem[:0]
	return nil
}

// inMemory returns the content if it is held in memory. The slice is valid
// until the next reset.
func (s *spool) inMemory() ([]byte, bool) {
	return s.mem, s.f == nil
}

// reader returns a reader over the whole content, valid until the next
// reset.
func (s *spool) reader() io.Reader {
	if s.f == nil {
		return bytes.NewReader(s.mem)
	}
	return io.NewSectionReader(s.f, 0, s.n)
}

// empty reports whether the spool holds no bytes.
func (s *spool) empty() bool { return s.n == 0 }

// reset drops the content and removes the temporary file, if any.
func (s *spool) reset() error {
	s.mem = s.mem[:0]
	s.n = 0
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if s.name != "" {
		err = errors.Join(err, os.Remove(s.name))
	}
	s.f, s.name = nil, ""
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
