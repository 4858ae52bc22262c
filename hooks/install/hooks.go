package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// hookNames are the hooks Install manages. Adding one here is all it takes
// on this side; `git-lode hook NAME` must handle it. pre-push uploads the
// data of what is pushed; post-checkout makes a checkout (and a clone)
// exit non-zero when the filter had to leave files as their pointers.
var hookNames = [...]string{"pre-push", "post-checkout"}

// HookNames returns the names of the hooks Install manages.
func HookNames() []string { return append([]string(nil), hookNames[:]...) }

const (
	// hookVersion is the version in the marker line of the hook bodies
	// this build writes. Raise it when the body changes in a way that
	// matters; bodies of any version are upgraded anyway.
	hookVersion = 1
	// ChainedSuffix is appended to the name of a user's hook that Install
	// moved aside.
	ChainedSuffix = ".lode-chained"
	// maxMarkerScan is how much of a hook is searched for the marker.
	maxMarkerScan = 4096
)

// markerRE matches the marker line of any version of our hooks.
var markerRE = regexp.MustCompile(`(?m)^# git-lode hook v[0-9]+:`)

// hookBody returns the script Install writes for hook name.
func hookBody(command, name string) []byte {
	cmd := shellQuote(command)
	var b bytes.Buffer
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "# git-lode hook v%d: installed by 'git lode install'; 'git lode uninstall' removes it\n", hookVersion)
	fmt.Fprintf(&b, "command -v %s >/dev/null 2>&1 || {\n", cmd)
	fmt.Fprintf(&b, "\tprintf >&2 '%%s\\n' %s\n",
		shellQuote(fmt.Sprintf("lode: the %s hook of this repository runs %s, which is not on your PATH.", name, command)))
	fmt.Fprintf(&b, "\tprintf >&2 '%%s\\n' %s\"$0\"%s\n",
		shellQuote("lode: install git-lode, or delete "), shellQuote(" to use git without lode."))
	b.WriteString("\texit 2\n}\n")
	fmt.Fprintf(&b, "exec %s hook %s \"$@\"\n", cmd, name)
	return b.Bytes()
}

// hookFile is what is found at one hook's path.
type hookFile struct {
	path    string
	kind    Kind        // Missing, Current, Outdated or Foreign
	mode    fs.FileMode // permission bits when present
	chained bool        // path+ChainedSuffix exists
}

// inspectHook looks at hook name in dir.
func inspectHook(dir, name string, want []byte) (hookFile, error) {
	h := hookFile{path: filepath.Join(dir, name), kind: Missing}
	if _, err := os.Lstat(h.path + ChainedSuffix); err == nil {
		h.chained = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return h, fmt.Errorf("inspect hook %s: %w", name, err)
	}
	fi, err := os.Lstat(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("inspect hook %s: %w", name, err)
	}
	h.mode = fi.Mode().Perm()
	if !fi.Mode().IsRegular() {
		h.kind = Foreign // a symlink or anything else is the user's
		return h, nil
	}
	f, err := os.Open(h.path)
	if err != nil {
		return h, fmt.Errorf("inspect hook %s: %w", name, err)
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(f, maxMarkerScan))
	if err != nil {
		return h, fmt.Errorf("inspect hook %s: %w", name, err)
	}
	switch {
	case !markerRE.Match(head):
		h.kind = Foreign
	case bytes.Equal(head, want) && h.mode&0o111 == 0o111:
		h.kind = Current
	default:
		h.kind = Outdated
	}
	return h, nil
}

// writeHook replaces path with body atomically, with permission bits perm.
func writeHook(path string, body []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".lode-tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(body)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// installHook puts our hook name in r.hooksDir; h is what inspectHook found.
func installHook(r repo, h hookFile, body []byte) (*Change, error) {
	disp := r.display(h.path)
	switch h.kind {
	case Current:
		return nil, nil
	case Missing:
		if err := writeHook(h.path, body, 0o755); err != nil {
			return nil, fmt.Errorf("install hook %s: %w", disp, err)
		}
		return &Change{"hook", disp + " (installed)"}, nil
	case Outdated:
		if err := writeHook(h.path, body, h.mode|0o111); err != nil {
			return nil, fmt.Errorf("upgrade hook %s: %w", disp, err)
		}
		return &Change{"hook", disp + " (upgraded lode's hook)"}, nil
	}
	// Foreign: move it aside and chain it.
	chained := h.path + ChainedSuffix
	if h.chained {
		return nil, fmt.Errorf("%w: %s is not lode's hook and %s exists too", ErrHookConflict, disp, r.display(chained))
	}
	if err := os.Rename(h.path, chained); err != nil {
		return nil, fmt.Errorf("move hook %s aside: %w", disp, err)
	}
	if err := writeHook(h.path, body, 0o755); err != nil {
		if rerr := os.Rename(chained, h.path); rerr != nil {
			err = fmt.Errorf("%w (and moving it back failed: %v)", err, rerr)
		}
		return nil, fmt.Errorf("install hook %s: %w", disp, err)
	}
	return &Change{"hook", fmt.Sprintf("%s (chained the existing hook as %s)", disp, filepath.Base(chained))}, nil
}

// uninstallHook removes our hook and restores a chained one.
func uninstallHook(r repo, h hookFile) ([]Change, error) {
	disp := r.display(h.path)
	chained := h.path + ChainedSuffix
	var changes []Change
	switch h.kind {
	case Foreign:
		if h.chained {
			changes = append(changes, Change{"warn", fmt.Sprintf("%s is not lode's hook; left it and %s alone", disp, filepath.Base(chained))})
		}
		return changes, nil
	case Current, Outdated:
		if err := os.Remove(h.path); err != nil {
			return nil, fmt.Errorf("remove hook %s: %w", disp, err)
		}
		changes = append(changes, Change{"hook", disp + " (removed)"})
	}
	if h.chained {
		if err := os.Rename(chained, h.path); err != nil {
			return changes, fmt.Errorf("restore hook %s from %s: %w", disp, filepath.Base(chained), err)
		}
		changes = append(changes, Change{"hook", fmt.Sprintf("%s (restored from %s)", disp, filepath.Base(chained))})
	}
	return changes, nil
}

// RunChained runs the user's hook that Install moved aside for hook name
// in the repository containing dir, as git would have run it: with args,
// stdin, and stdout and stderr passed through, from the top of the working
// tree (the git directory when bare), in the inherited environment. It
// returns nil when there is no chained hook or it is not executable (git
// skips those too), and an error wrapping *exec.ExitError when the hook
// fails. `git lode hook NAME` calls it after its own work.
func RunChained(ctx context.Context, dir, name string, args []string, stdin []byte, stdout, stderr io.Writer) error {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("run chained hook: bad hook name %q", name)
	}
	r, err := git{dir: dir}.findRepo(ctx)
	if err != nil {
		return fmt.Errorf("run chained %s hook: %w", name, err)
	}
	path := filepath.Join(r.hooksDir, name+ChainedSuffix)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("run chained hook %s: %w", r.display(path), err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil
	}
	argv := append([]string{path}, args...)
	if !hasShebang(path) {
		// git runs scripts without "#!" with /bin/sh; so do we.
		argv = append([]string{"/bin/sh"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = r.top
	if cmd.Dir == "" {
		cmd.Dir = r.gitDir
	}
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chained hook %s: %w", r.display(path), err)
	}
	return nil
}

// hasShebang reports whether the file at path starts with "#!".
func hasShebang(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // let exec report the problem
	}
	defer f.Close()
	b := make([]byte, 2)
	n, _ := io.ReadFull(f, b)
	return n == 2 && string(b) == "#!"
}
