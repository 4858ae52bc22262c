package commitfs

import (
	"context"

	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/rangeread"
)

// SourceFiles returns the Files that a rangeread.Source serves: each open
// file handle gets its own rangeread.Reader, so readahead follows it. It
// is a Prefetcher.
func SourceFiles(s *rangeread.Source) Files { return sourceFiles{s} }

type sourceFiles struct{ s *rangeread.Source }

var _ Prefetcher = sourceFiles{}

func (f sourceFiles) Open(ctx context.Context, p pointer.Pointer) (LodeFile, error) {
	file, err := f.s.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return sourceFile{file}, nil
}

// Prefetch has the Source take the files' chunks into its memory cache
// in the background (see rangeread.Source.Prefetch).
func (f sourceFiles) Prefetch(ps []pointer.Pointer, got func(int, []byte)) bool {
	return f.s.Prefetch(ps, got)
}

type sourceFile struct{ f *rangeread.File }

func (f sourceFile) Size() int64            { return f.f.Size() }
func (f sourceFile) NewReader() RangeReader { return f.f.NewReader() }
