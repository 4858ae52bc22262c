package local

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/lodevcs/lode/remote"
)

// Root, which runs these tests, ignores file modes, so the translation of
// operating-system errors is checked here directly.
func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, remote.ErrNotExist},
		{&fs.PathError{Op: "open", Path: "/x/y", Err: syscall.ENOTDIR}, remote.ErrNotExist},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, remote.ErrPermission},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EPERM}, remote.ErrPermission},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}, remote.ErrReadOnly},
	} {
		got := translate(tc.err)
		if !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("translate(%v) = %v, want it to wrap %v and the original", tc.err, got, tc.want)
		}
	}
	other := fmt.Errorf("disk on fire: %w", syscall.EIO)
	if got := translate(other); got != other || remote.IsPermanent(got) {
		t.Errorf("translate(%v) = %v, want it unchanged", other, got)
	}
}
