package commitfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotMounted means that Unmount was given a directory that is not a
// mount point.
var ErrNotMounted = errors.New("not a mount point")

// Unmount removes the mount at dir, whether or not the process that served
// it is still alive (a mount whose server died answers every access with
// ENOTCONN until it is removed). It tries, in turn: umount(2) (as root),
// "fusermount3 -u" (or fusermount), and then a lazy unmount (umount2 with
// MNT_DETACH as root, "fusermount3 -u -z" otherwise), which detaches the
// mount at once even while files in it are open; the kernel lets the
// filesystem go when the last of them is closed. It returns nil once one
// succeeds, an error wrapping ErrNotMounted if dir is not a mount point,
// and otherwise an error listing what each attempt said.
func Unmount(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	if ok, err := isMountPoint(abs); err == nil && !ok {
		return fmt.Errorf("unmount %s: %w", abs, ErrNotMounted)
	}
	root := os.Geteuid() == 0
	var errs []error
	if root {
		if err := unix.Unmount(abs, 0); err == nil {
			return nil
		} else {
			errs = append(errs, fmt.Errorf("umount: %w", err))
		}
	}
	bin, binErr := fusermountBinary()
	if binErr == nil {
		if err := run(bin, "-u", abs); err == nil {
			return nil
		} else {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, binErr)
	}
	// Lazy: detach now, release when no longer busy.
	if root {
		if err := unix.Unmount(abs, unix.MNT_DETACH); err == nil {
			return nil
		} else {
			errs = append(errs, fmt.Errorf("umount -l: %w", err))
		}
	} else if binErr == nil {
		if err := run(bin, "-u", "-z", abs); err == nil {
			return nil
		} else {
			errs = append(errs, err)
		}
	}
	return fmt.Errorf("unmount %s: %w", abs, errors.Join(errs...))
}

// fusermountBinary finds fusermount3, or else fusermount, on PATH or in
// /bin.
func fusermountBinary() (string, error) {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		if p := filepath.Join("/bin", name); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("neither fusermount3 nor fusermount found (Debian: apt-get install fuse3)")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// run runs a command, and on failure returns an error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), msg)
	}
	return nil
}

// isMountPoint reports whether abs (absolute and clean) is a mount point
// in this process's mount namespace, from /proc/self/mountinfo. It does
// not touch abs itself, which may be a dead FUSE mount.
func isMountPoint(abs string) (bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...
		f := strings.Fields(sc.Text())
		if len(f) > 4 && unescapeMountinfo(f[4]) == abs {
			return true, nil
		}
	}
	return false, sc.Err()
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
