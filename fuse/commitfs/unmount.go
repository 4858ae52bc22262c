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
	"time"

	"golang.org/x/sys/unix"
)

// Errors that Unmount wraps.
var (
	// ErrNotMounted means that Unmount was given a directory that is not
	// a mount point.
	ErrNotMounted = errors.New("not a mount point")
	// ErrBusy means that the mount is in use: a file in it is open
	// (perhaps by a read still waiting for its data), or a process has
	// its working directory in it. UnmountOptions.Lazy detaches it
	// anyway.
	ErrBusy = errors.New("mount point is busy")
)

// UnmountOptions tune Unmount.
type UnmountOptions struct {
	// Lazy detaches the mount even while it is busy (umount -l,
	// fusermount3 -u -z): it vanishes from the directory tree at once,
	// open files keep working, and the kernel lets the filesystem go
	// when the last of them is closed.
	Lazy bool
}

// busyRetries are the pauses before Unmount tries again a mount that was
// busy: a file closed a moment ago may still hold it.
var busyRetries = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond}

// Unmount removes the mount at dir, whether or not the process that served
// it is still alive (a mount whose server died answers every access with
// ENOTCONN until it is removed). It tries umount(2) (as root), else
// "fusermount3 -u" (or fusermount); with opts.Lazy, it detaches instead.
// It returns nil once the mount is gone (or detached), an error wrapping
// ErrNotMounted if dir is not a mount point, one wrapping ErrBusy if the
// mount is in use (and opts.Lazy is not set), and otherwise an error
// listing what each attempt said.
func Unmount(dir string, opts UnmountOptions) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	if ok, err := isMountPoint(abs); err == nil && !ok {
		return fmt.Errorf("unmount %s: %w", abs, ErrNotMounted)
	}
	root := os.Geteuid() == 0
	err = unmountOnce(abs, opts.Lazy, root)
	for _, d := range busyRetries {
		if !errors.Is(err, ErrBusy) {
			break
		}
		time.Sleep(d)
		err = unmountOnce(abs, opts.Lazy, root)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", abs, err)
	}
	return nil
}

// unmountOnce tries umount(2) if root, then fusermount. An error says
// what each attempt said, and wraps ErrBusy if one found the mount busy.
func unmountOnce(abs string, lazy, root bool) error {
	var errs []error
	if root {
		flags := 0
		if lazy {
			flags = unix.MNT_DETACH
		}
		err := unix.Unmount(abs, flags)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EBUSY) {
			return ErrBusy
		}
		errs = append(errs, fmt.Errorf("umount: %w", err))
	}
	bin, err := fusermountBinary()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	args := []string{"-u", abs}
	if lazy {
		args = []string{"-u", "-z", abs}
	}
	err = run(bin, args...)
	if err == nil {
		return nil
	}
	// fusermount prints strerror(EBUSY); run gives it the C locale.
	if strings.Contains(strings.ToLower(err.Error()), unix.EBUSY.Error()) {
		return fmt.Errorf("%w (%v)", ErrBusy, err)
	}
	return errors.Join(append(errs, err)...)
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

// run runs a command in the C locale, and on failure returns an error with
// its output.
func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
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
