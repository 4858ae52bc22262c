package servers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvFile is the name, inside Options.Dir, of the shell file that
// WriteEnvFile writes.
const EnvFile = "env"

// WriteEnvFile writes e as `export KEY='value'` lines to dir/EnvFile and
// returns its path.
func WriteEnvFile(dir string, e Env) (string, error) {
	var b strings.Builder
	for _, kv := range e.Vars() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	path := filepath.Join(dir, EnvFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// StopDir ends the detached servers whose pid files are in dir (SIGTERM to
// the server's process group, SIGKILL after 5 s) and removes the pid
// files and the env file. A pid whose process is gone, or is no longer a
// server binary, is skipped.
func StopDir(dir string) error {
	var errs []error
	for _, t := range []Tool{S3Tool(), GCSTool()} {
		pidFile := filepath.Join(dir, t.Name+".pid")
		data, err := os.ReadFile(pidFile)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 1 {
			errs = append(errs, fmt.Errorf("%s: bad pid %q", pidFile, data))
			continue
		}
		if isTool(pid, t.Name) {
			if err := terminate(pid); err != nil {
				errs = append(errs, fmt.Errorf("stop %s (pid %d): %w", t.Name, pid, err))
				continue
			}
		}
		_ = os.Remove(pidFile)
	}
	_ = os.Remove(filepath.Join(dir, EnvFile))
	return errors.Join(errs...)
}

// isTool reports whether pid is a running process of the named binary.
func isTool(pid int, name string) bool {
	if !alive(pid) {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		// No /proc: trust the pid file.
		return true
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == name
}

func terminate(pid int) error {
	// A detached server leads its own process group.
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	for range 250 {
		if !alive(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("still running after SIGKILL")
}

// alive reports whether pid is a process that has not exited. A zombie
// (exited, not yet reaped by whoever inherited it) counts as exited.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
