package commitfs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lodevcs/lode/cas/pointer"
)

type orderFiles struct {
	*fakeFiles
	mu   sync.Mutex
	offs []int64
	lens []int
}

func (o *orderFiles) Open(ctx context.Context, p pointer.Pointer) (LodeFile, error) {
	lf, err := o.fakeFiles.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return orderFile{lf, o}, nil
}

type orderFile struct {
	LodeFile
	o *orderFiles
}

func (f orderFile) NewReader() RangeReader { return orderReader{f.LodeFile.NewReader(), f.o} }

type orderReader struct {
	r RangeReader
	o *orderFiles
}

func (r orderReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	r.o.mu.Lock()
	r.o.offs = append(r.o.offs, off)
	r.o.lens = append(r.o.lens, len(p))
	r.o.mu.Unlock()
	return r.r.ReadAt(ctx, p, off)
}

func TestScratchOrder(t *testing.T) {
	ff := newFakeFiles()
	f := ff.add("x", 64<<20)
	o := &orderFiles{fakeFiles: ff}
	m := newMemObjects()
	root := m.tree(Entry{Name: "seq.bin", Mode: ModeRegular, Hash: m.blob(f.ptr.Encode())})
	_, dir := mount(t, Options{Root: root, Objects: m, Files: o})
	fd, _ := os.Open(filepath.Join(dir, "seq.bin"))
	buf := make([]byte, 128<<10)
	for {
		_, err := fd.Read(buf)
		if err == io.EOF {
			break
		}
	}
	fd.Close()
	next := int64(0)
	ooo := 0
	for i, off := range o.offs {
		if off != next {
			ooo++
			if ooo < 10 {
				t.Logf("read %d at %d len %d, expected %d", i, off, o.lens[i], next)
			}
		}
		next = off + int64(o.lens[i])
	}
	t.Logf("%d reads, %d out of order", len(o.offs), ooo)
}
