package commitfs

import (
	"context"

	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/transfer"
)

// SourceFiles returns the Files that a transfer.Source serves: each open
// file handle gets its own transfer.Reader, so readahead follows it.
func SourceFiles(s *transfer.Source) Files { return sourceFiles{s} }

type sourceFiles struct{ s *transfer.Source }

func (f sourceFiles) Open(ctx context.Context, p pointer.Pointer) (LodeFile, error) {
	file, err := f.s.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	return sourceFile{file}, nil
}

type sourceFile struct{ f *transfer.File }

func (f sourceFile) Size() int64            { return f.f.Size() }
func (f sourceFile) NewReader() RangeReader { return f.f.NewReader() }
