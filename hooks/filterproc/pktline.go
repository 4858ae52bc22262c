package filterproc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

const (
	// MaxPayload is the largest payload of one pkt-line packet (65520
	// bytes including the 4-byte length header). Content is sent in packets
	// of exactly this size except the last one of a response.
	MaxPayload = maxPktLen - 4

	maxPktLen = 65520

	// readBufSize is the size of the buffer in front of git's pipe. It must
	// hold a whole packet so that a line can be peeked in one piece.
	readBufSize = 2 * maxPktLen

	// writeSlack is the room for control packets in front of a data
	// packet in the write buffer; beyond it the buffer is written out
	// before a data packet is opened.
	writeSlack = 4096
)

// pktReader reads pkt-lines from git. Payloads are peeked in its buffer and
// copied once, into the consumer's slice (Read) or not at all (WriteTo).
type pktReader struct {
	br *bufio.Reader
}

func newPktReader(r io.Reader) *pktReader {
	return &pktReader{br: bufio.NewReaderSize(r, readBufSize)}
}

// header reads one packet header. It returns the payload length, or
// flush=true for a flush packet, or io.EOF if the input ended cleanly
// before the header's first byte.
func (r *pktReader) header() (n int, flush bool, err error) {
	b, err := r.br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(b) == 0 {
				return 0, false, io.EOF
			}
			return 0, false, io.ErrUnexpectedEOF
		}
		return 0, false, err
	}
	l, ok := parseHex4(b)
	if !ok {
		return 0, false, fmt.Errorf("%w: bad pkt-line length %q", ErrProtocol, b)
	}
	_, _ = r.br.Discard(4) // cannot fail: the 4 bytes are buffered
	switch {
	case l == 0:
		return 0, true, nil
	case l < 4:
		// 0001 (delim) and 0002 (response end) belong to protocol v2 of
		// fetch, not to the filter protocol.
		return 0, false, fmt.Errorf("%w: unexpected special packet %04x", ErrProtocol, l)
	case l > maxPktLen:
		return 0, false, fmt.Errorf("%w: pkt-line length %d exceeds %d", ErrProtocol, l, maxPktLen)
	}
	return l - 4, false, nil
}

// line reads one packet and returns its payload as a string without its
// trailing newline, or flush=true for a flush packet. It returns io.EOF if
// the input ended cleanly before the packet.
func (r *pktReader) line() (s string, flush bool, err error) {
	n, flush, err := r.header()
	if err != nil || flush {
		return "", flush, err
	}
	b, err := r.br.Peek(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", false, err
	}
	if n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	s = string(b)
	_, _ = r.br.Discard(n)
	return s, false, nil
}

// lines reads packets up to the next flush and calls f with each line.
// io.EOF before the first packet is returned as is; later it becomes
// io.ErrUnexpectedEOF.
func (r *pktReader) lines(f func(string)) error {
	for first := true; ; first = false {
		s, flush, err := r.line()
		if err != nil {
			if err == io.EOF && !first {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if flush {
			return nil
		}
		f(s)
	}
}

func parseHex4(b []byte) (int, bool) {
	n := 0
	for _, c := range b[:4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int(d)
	}
	return n, true
}

func putHex4(b []byte, n int) {
	const digits = "0123456789abcdef"
	b[0] = digits[n>>12&0xf]
	b[1] = digits[n>>8&0xf]
	b[2] = digits[n>>4&0xf]
	b[3] = digits[n&0xf]
}

// pktWriter writes pkt-lines to git. It builds packets in place in one
// buffer: content written through data is cut into packets of MaxPayload
// bytes, and each full packet is written to the pipe in one Write together
// with any control packets before it. Nothing reaches the pipe before a
// data packet fills up or flushOut is called. Errors are sticky.
type pktWriter struct {
	w    io.Writer
	buf  []byte // unsent packets; the open data packet, if any, is last
	open int    // offset of the open data packet's header in buf, or -1
	err  error
}

func newPktWriter(w io.Writer) *pktWriter {
	return &pktWriter{w: w, buf: make([]byte, 0, writeSlack+maxPktLen), open: -1}
}

// openData makes sure a data packet is open and returns the room left in
// it.
func (pw *pktWriter) openData() int {
	if pw.open < 0 {
		if len(pw.buf) > writeSlack {
			pw.flushOut()
		}
		pw.open = len(pw.buf)
		pw.buf = append(pw.buf, "0000"...)
	}
	return pw.open + maxPktLen - len(pw.buf)
}

// filled closes the open data packet and sends the buffer when the packet
// is full.
func (pw *pktWriter) filled() {
	if len(pw.buf)-pw.open == maxPktLen {
		pw.closeData()
		pw.flushOut()
	}
}

// data appends content, cutting it into packets.
func (pw *pktWriter) data(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && pw.err == nil {
		k := min(pw.openData(), len(p))
		pw.buf = append(pw.buf, p[:k]...)
		p = p[k:]
		n += k
		pw.filled()
	}
	if pw.err != nil {
		return n, pw.err
	}
	return n, nil
}

// readFrom appends content read from r until io.EOF, reading straight into
// the packet buffer. It returns the first error of r or of the pipe.
func (pw *pktWriter) readFrom(r io.Reader) (int64, error) {
	var total int64
	for pw.err == nil {
		room := pw.openData()
		end := len(pw.buf)
		n, err := r.Read(pw.buf[end : end+room])
		pw.buf = pw.buf[:end+n]
		total += int64(n)
		pw.filled()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, pw.err
}

// closeData ends the open data packet, dropping it if it is empty.
func (pw *pktWriter) closeData() {
	if pw.open < 0 {
		return
	}
	if l := len(pw.buf) - pw.open; l == 4 {
		pw.buf = pw.buf[:pw.open]
	} else {
		putHex4(pw.buf[pw.open:], l)
	}
	pw.open = -1
}

// line appends a packet holding s and a newline.
func (pw *pktWriter) line(s string) {
	pw.closeData()
	l := 4 + len(s) + 1
	if l > maxPktLen {
		// Only pathnames are echoed back, and git sent each of them in
		// a packet of its own, so this cannot happen with git.
		pw.setErr(fmt.Errorf("line of %d bytes does not fit in a packet", len(s)))
		return
	}
	if len(pw.buf)+l > cap(pw.buf) {
		pw.flushOut()
	}
	var h [4]byte
	putHex4(h[:], l)
	pw.buf = append(pw.buf, h[:]...)
	pw.buf = append(pw.buf, s...)
	pw.buf = append(pw.buf, '\n')
}

// flush appends a flush packet.
func (pw *pktWriter) flush() {
	pw.closeData()
	if len(pw.buf)+4 > cap(pw.buf) {
		pw.flushOut()
	}
	pw.buf = append(pw.buf, "0000"...)
}

// flushOut closes the open data packet and writes the buffer to the pipe.
func (pw *pktWriter) flushOut() error {
	pw.closeData()
	if pw.err != nil {
		pw.buf = pw.buf[:0]
		return pw.err
	}
	if len(pw.buf) > 0 {
		_, err := pw.w.Write(pw.buf)
		pw.buf = pw.buf[:0]
		if err != nil {
			pw.setErr(fmt.Errorf("write to git: %w", err))
		}
	}
	return pw.err
}

func (pw *pktWriter) setErr(err error) {
	if pw.err == nil {
		pw.err = err
	}
}
