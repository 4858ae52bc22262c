package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress prints one status line on stderr, rewritten in place, when
// stderr is a terminal; otherwise it prints nothing, so logs stay clean.
type progress struct {
	w    io.Writer
	name string

	mu    sync.Mutex // guards last and shown
	last  time.Time
	shown bool
}

func (a *app) progress(name string) *progress {
	p := &progress{name: name}
	if f, ok := a.io.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) && a.getenv("LODE_NO_PROGRESS") == "" {
		p.w = f
	}
	return p
}

// printf replaces the status line, at most ten times a second.
func (p *progress) printf(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[K%s: %s", p.name, fmt.Sprintf(format, args...))
}

// done clears the status line.
func (p *progress) done() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
