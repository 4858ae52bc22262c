//go:build linux

package cli

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipes asks the kernel for 1 MiB pipe buffers on the filter's stdin
// and stdout (the default is 64 KiB), so that multi-GiB files cross
// between git and git-lode in fewer, larger transfers. Failure is harmless
// (not a pipe, or above /proc/sys/fs/pipe-max-size) and ignored.
func growPipes(files ...any) {
	for _, f := range files {
		if f, ok := f.(*os.File); ok {
			_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
		}
	}
}
