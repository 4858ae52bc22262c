package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/cas/rangeread"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/fuse/commitfs"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/spf13/cobra"
)

// readyFDEnv names the file descriptor on which a background mount tells
// its parent that it is ready ("ok") or why it failed.
const readyFDEnv = "LODE_MOUNT_READY_FD"

type mountFlags struct {
	foreground  bool
	list        bool
	cacheSize   string
	remote      string
	readTimeout time.Duration
}

func (a *app) mountCommand() *cobra.Command {
	var f mountFlags
	cmd := &cobra.Command{
		Use:   "mount [REV] DIR",
		Short: "Show a revision as a read-only directory; data is fetched as it is read",
		Long: `Mounts the tree of REV (default HEAD) read-only at DIR, an empty directory.
Directories and ordinary git files come from git's objects; lode files appear
at their real size, and reading them fetches only the chunks a read touches
(from the local store, else from the lode remote with ranged reads), checked
against their ids and cached locally (--cache-size, least recently used
first). A revision never changes, so the kernel caches freely.

Files that REV holds as Git LFS pointers (history from before a move from
Git LFS) appear at their real size too, read from Git LFS's local store
(.git/lfs/objects, or lfs.storage), each object checked whole against its
SHA-256 before a byte of it is read; one that is not there fails to read
(EIO, logged): run 'git lfs fetch' for REV first.

Without --foreground the mount runs in the background and this command
returns once it is ready. Unmount with 'git lode umount DIR' (or
fusermount3 -u DIR). 'git lode mount --list' shows active lode mounts.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.list {
				if len(args) > 0 {
					return usageError("--list takes no arguments")
				}
				return a.listMounts()
			}
			var rev, dir string
			switch len(args) {
			case 1:
				rev, dir = "HEAD", args[0]
			case 2:
				rev, dir = args[0], args[1]
			default:
				return usageError("takes [REV] DIR, got %d argument(s)", len(args))
			}
			return a.mount(cmd.Context(), rev, dir, f)
		},
	}
	cmd.Flags().BoolVar(&f.foreground, "foreground", false, "stay in the foreground until unmounted (Ctrl-C unmounts)")
	cmd.Flags().BoolVar(&f.list, "list", false, "list active lode mounts")
	cmd.Flags().StringVar(&f.cacheSize, "cache-size", "2GiB", "bound of the local cache of fetched chunks")
	cmd.Flags().StringVar(&f.remote, "remote", "", "git remote whose lode remote to read (default: the current branch's remote, or origin)")
	a.completeGitRemotes(cmd, "remote")
	cmd.Flags().DurationVar(&f.readTimeout, "read-timeout", commitfs.DefaultReadTimeout, "a read of a lode file that takes longer fails (EIO) and is logged")
	return cmd
}

func (a *app) umountCommand() *cobra.Command {
	var lazy bool
	cmd := &cobra.Command{
		Use:   "umount DIR",
		Short: "Unmount a lode mount (also one whose process was killed)",
		Long: `Unmounts the lode mount at DIR, also one whose mount process was killed.
A mount in use (a file in it open, a shell or other process with its working
directory inside) is left alone and the command fails; close what uses it, or
give --lazy to detach it at once: it vanishes from DIR now, open files keep
working, and the mount goes away when the last of them is closed.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("takes DIR")
			}
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			return a.umount(dir, lazy)
		},
	}
	cmd.Flags().BoolVar(&lazy, "lazy", false, "detach a mount that is in use now; it goes away when the last file in it is closed")
	return cmd
}

// umount unmounts dir, or with lazy detaches it if it is busy.
func (a *app) umount(dir string, lazy bool) error {
	err := commitfs.Unmount(dir, commitfs.UnmountOptions{})
	switch {
	case err == nil:
		a.dropMountFiles(dir)
		fmt.Fprintf(a.io.Err, "lode: unmounted %s\n", dir)
		return nil
	case errors.Is(err, commitfs.ErrBusy) && lazy:
		if err := commitfs.Unmount(dir, commitfs.UnmountOptions{Lazy: true}); err != nil {
			return fmt.Errorf("detach %s: %w", dir, err)
		}
		a.dropMountFiles(dir)
		fmt.Fprintf(a.io.Err, "lode: detached %s; the mount goes away when the last file in it is closed\n", dir)
		return nil
	case errors.Is(err, commitfs.ErrBusy):
		return fmt.Errorf("cannot unmount %s: it is busy (a file in it is open, or a process has its working directory in it); "+
			"close those and run 'git lode umount %s' again, or run 'git lode umount --lazy %s' to detach it now "+
			"(it goes away when the last file in it is closed)", dir, dir, dir)
	case errors.Is(err, commitfs.ErrNotMounted):
		return fmt.Errorf("%s is not a mount point", dir)
	}
	return fmt.Errorf("unmount %s: %w", dir, err)
}

// dropMountFiles removes what the mount at dir left in the store (its
// state and log) once its process is gone (a killed mount's; a live one
// removes its own as it exits).
func (a *app) dropMountFiles(dir string) {
	r, err := a.findRepo(context.Background())
	if err != nil {
		return
	}
	storeDir, err := a.storeDir(context.Background(), r)
	if err != nil {
		return
	}
	state, log := store.MountFiles(storeDir, dir)
	var s mountStats
	if data, err := os.ReadFile(state); err == nil && json.Unmarshal(data, &s) == nil && processAlive(s.PID) {
		return
	}
	os.Remove(state)
	os.Remove(log)
}

// mount checks everything it can before mounting, so that errors (a
// revision that does not exist, a directory that is not empty) leave
// nothing mounted.
func (a *app) mount(ctx context.Context, rev, dir string, f mountFlags) error {
	cacheSize, err := parseSize(f.cacheSize)
	if err != nil {
		return usageError("--cache-size %q: %v", f.cacheSize, err)
	}
	if f.readTimeout <= 0 {
		return usageError("--read-timeout %v: want a positive duration such as 30s or 2m", f.readTimeout)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := checkMountDir(abs); err != nil {
		return err
	}
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	gr, commit, err := a.openRev(r, rev)
	if err != nil {
		if errors.Is(err, errNoCommits) {
			return fmt.Errorf("cannot mount %s: %w", rev, err)
		}
		return err
	}
	if r.workTree != "" {
		if rel, err := filepath.Rel(r.workTree, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			fmt.Fprintf(a.io.Err, "lode: warning: %s is inside the work tree: git status and git add will walk into the mount (slow, and its files show as untracked); mount outside it, or add %s to .git/info/exclude\n", abs, filepath.ToSlash(rel)+"/")
		}
	}
	if !f.foreground {
		gr.Close()
		return a.mountInBackground(ctx, r, rev, commit, abs, f)
	}
	defer gr.Close()
	return a.serveMount(ctx, r, gr, commit, rev, abs, cacheSize, f)
}

// checkMountDir requires an existing, empty directory.
func checkMountDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mount point %s does not exist; create an empty directory there first", dir)
		}
		return fmt.Errorf("mount point %s: %w (if a killed mount is still there, run 'git lode umount %s')", dir, err, dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", dir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	defer d.Close()
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("mount point %s is not empty; mount on an empty directory", dir)
	}
	return nil
}

// mountInBackground starts `git-lode mount --foreground` as a detached
// process and waits until it reports that the mount is ready.
func (a *app) mountInBackground(ctx context.Context, r *repo, rev string, commit plumbing.Hash, dir string, f mountFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	args := []string{"mount", "--foreground", "--cache-size", f.cacheSize, "--read-timeout", f.readTimeout.String()}
	if f.remote != "" {
		args = append(args, "--remote", f.remote)
	}
	args = append(args, "--", rev, dir)
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	storeDir, err := a.storeDir(ctx, r)
	if err != nil {
		pw.Close()
		return err
	}
	_, logPath := store.MountFiles(storeDir, dir)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		pw.Close()
		return fmt.Errorf("mount log: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		pw.Close()
		return fmt.Errorf("mount log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		pw.Close()
		logFile.Close()
		return fmt.Errorf("start the mount process: %w", err)
	}
	pw.Close()
	logFile.Close()
	msg, _ := bufio.NewReader(pr).ReadString('\n')
	msg = strings.TrimSpace(msg)
	if msg != "ok" {
		cmd.Wait()
		if msg == "" {
			b, _ := os.ReadFile(logFile.Name())
			msg = strings.TrimSpace(string(b))
		}
		os.Remove(logFile.Name())
		return errors.New(strings.TrimPrefix(msg, "git-lode: "))
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	fmt.Fprintf(a.io.Err, "lode: mounted %s (commit %s) at %s (process %d, log %s); unmount with 'git lode umount %s'\n", rev, commit.String()[:12], dir, pid, logFile.Name(), dir)
	return nil
}

// serveMount mounts and serves until unmounted or interrupted.
func (a *app) serveMount(ctx context.Context, r *repo, gr *gitrepo.Repo, commit plumbing.Hash, rev, dir string, cacheSize int64, f mountFlags) (err error) {
	ready := a.readyPipe()
	defer func() {
		if err != nil && ready != nil {
			fmt.Fprintf(ready, "%v\n", err)
		}
		if ready != nil {
			ready.Close()
		}
	}()
	root, err := gr.CommitTree(commit)
	if err != nil {
		return err
	}
	when, err := gr.CommitTime(commit)
	if err != nil {
		return err
	}
	ds, err := a.openDataSource(ctx, r, f.remote, cacheSize)
	if err != nil {
		return err
	}
	defer ds.close()
	st, rem, cache, src := ds.st, ds.rem, ds.cache, ds.src

	logf := func(format string, args ...any) {
		fmt.Fprintf(a.io.Err, "%s git-lode mount: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
	}
	lfsFiles := a.lfsFiles(r)
	defer lfsFiles.close()
	srv, err := commitfs.Mount(dir, commitfs.Options{
		Root:        commitfs.Hash(root),
		Objects:     gitObjects{gr},
		Files:       commitfs.SourceFiles(src),
		Foreign:     lfsFiles,
		Logf:        logf,
		Name:        "lode:" + filepath.Base(r.dir()) + "@" + rev,
		Time:        when,
		ReadTimeout: f.readTimeout,
	})
	if err != nil {
		return fmt.Errorf("mount %s at %s: %w", rev, dir, err)
	}
	stats := mountStats{Dir: dir, Rev: rev, Commit: commit.String(), Repo: r.dir(), PID: os.Getpid()}
	statsPath, logPath := store.MountFiles(st.Dir(), dir)
	writeStats := func() {
		stats.FetchedBytes, stats.FetchRequests = src.Fetched()
		if rem != nil {
			stats.RemoteRequests = rem.Requests()
		}
		if fr, ok := src.First(); ok {
			stats.FirstReadRequests, stats.FirstReadBytes = fr.Requests, fr.Bytes
		}
		stats.CacheBytes = cache.Size()
		_ = writeJSON(statsPath, stats)
	}
	writeStats()
	defer os.Remove(statsPath)
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
		ready = nil
	} else {
		fmt.Fprintf(a.io.Err, "lode: %s mounted at %s; Ctrl-C or 'git lode umount %s' unmounts\n", rev, dir, dir)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			writeStats()
			logf("unmounted; fetched %d bytes in %d requests", stats.FetchedBytes, stats.FetchRequests)
			if a.getenv(readyFDEnv) == "3" {
				os.Remove(logPath) // a background mount's log: its job is done
			}
			return nil
		case <-sigs:
			if err := srv.Unmount(); err != nil {
				logf("unmount: %v (the directory is busy; retrying on the next signal, or use 'git lode umount --lazy %s')", err, dir)
			}
		case <-tick.C:
			writeStats()
		}
	}
}

// dataSource is where a mount or a server reads lode files from: the
// local store, the lode remote (nil if none is configured), the chunk
// cache, and the rangeread.Source over them.
type dataSource struct {
	st    *store.Store
	rem   *remotestore.Store
	cache *rangeread.ChunkCache
	src   *rangeread.Source
}

func (d *dataSource) close() {
	d.src.Close()
	if d.rem != nil {
		d.rem.Close()
	}
	d.st.Close()
}

// openDataSource opens the store, the lode remote of gitRemote (or the
// default one) and the chunk cache, and knows the remote's packs before it
// returns: the first read then costs only what it reads, and a remote that
// cannot be reached is an error now rather than a failed read later.
// Without a lode remote only the local store is read (said on stderr).
func (a *app) openDataSource(ctx context.Context, r *repo, gitRemote string, cacheSize int64) (ds *dataSource, err error) {
	st, err := a.openStore(ctx, r)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	rem, err := a.openRemote(ctx, r, st, gitRemote)
	if err != nil {
		if !errors.Is(err, errNoRemote) {
			return nil, err
		}
		fmt.Fprintf(a.io.Err, "lode: no lode remote (%v); only data in the local store can be read\n", err)
		rem = nil
	}
	if rem != nil {
		if err := rem.Sync(ctx); err != nil {
			rem.Close()
			return nil, fmt.Errorf("lode remote: %w", err)
		}
		a.reportRemoteProblems(rem)
	}
	cache, err := rangeread.OpenChunkCache(st.ChunkCacheDir(), cacheSize)
	if err != nil {
		if rem != nil {
			rem.Close()
		}
		return nil, err
	}
	return &dataSource{st: st, rem: rem, cache: cache, src: rangeread.NewSource(st, rem, cache, rangeread.SourceOptions{})}, nil
}

// readyPipe is the pipe a background mount reports on, if any.
func (a *app) readyPipe() io.WriteCloser {
	if a.getenv(readyFDEnv) != "3" {
		return nil
	}
	return os.NewFile(3, "ready")
}

// mountStats is what a mount process publishes about itself.
type mountStats struct {
	Dir            string `json:"dir"`
	Rev            string `json:"rev"`
	Commit         string `json:"commit"`
	Repo           string `json:"repo"`
	PID            int    `json:"pid"`
	FetchedBytes   int64  `json:"fetched_bytes"`
	FetchRequests  int64  `json:"fetch_requests"`  // ranged reads of chunks
	RemoteRequests int64  `json:"remote_requests"` // all requests to the remote, manifests included
	// What the first read that needed the remote cost by the time its
	// chunks were there (requests in sequence, manifest included; bytes),
	// before any readahead.
	FirstReadRequests int64 `json:"first_read_requests"`
	FirstReadBytes    int64 `json:"first_read_bytes"`
	CacheBytes        int64 `json:"cache_bytes"`
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// listMounts prints the lode mounts of this machine from /proc/self/mounts,
// with what each mount process published about itself: the revision and
// the commit it pins, whether its process is alive, and what it fetched.
// State files of mounts that are gone are removed.
func (a *app) listMounts() error {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return fmt.Errorf("list mounts: %w", err)
	}
	statsByDir := map[string]mountStats{}
	statePaths := map[string]string{}
	if r, err := a.findRepo(context.Background()); err == nil {
		if dir, err := a.storeDir(context.Background(), r); err == nil {
			files, _ := filepath.Glob(filepath.Join(store.MountsDir(dir), "*.json"))
			for _, p := range files {
				var s mountStats
				if data, err := os.ReadFile(p); err == nil && json.Unmarshal(data, &s) == nil {
					statsByDir[s.Dir], statePaths[s.Dir] = s, p
				}
			}
		}
	}
	n := 0
	mounted := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[2], "fuse") || !strings.HasPrefix(f[0], "lode") {
			continue
		}
		dir := unescapeMount(f[1])
		mounted[dir] = true
		n++
		s, ok := statsByDir[dir]
		if !ok {
			fmt.Fprintf(a.io.Out, "%s\t%s\n", dir, f[0])
			continue
		}
		state := fmt.Sprintf("pid %d alive", s.PID)
		if !processAlive(s.PID) {
			state = fmt.Sprintf("pid %d dead: 'git lode umount %s' cleans up", s.PID, dir)
		}
		commit := s.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		fmt.Fprintf(a.io.Out, "%s\t%s@%s (commit %s)\t%s\tfetched %s in %d requests\n", dir, filepath.Base(s.Repo), s.Rev, commit, state, humanBytes(s.FetchedBytes), s.FetchRequests)
	}
	for dir, p := range statePaths {
		if !mounted[dir] && !processAlive(statsByDir[dir].PID) {
			os.Remove(p)
			os.Remove(strings.TrimSuffix(p, ".json") + ".log")
		}
	}
	if n == 0 {
		fmt.Fprintln(a.io.Err, "lode: no lode mounts")
	}
	return nil
}

// processAlive reports whether process pid exists and has not exited (a
// zombie, not yet reaped by its new parent, has).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
			return b[i+2] != 'Z' && b[i+2] != 'X'
		}
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// unescapeMount undoes the octal escapes of /proc/self/mounts (\040 for a
// space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseSize parses sizes like 512MiB, 2GiB, 1G, 1048576.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	var n float64
	if _, err := fmt.Sscanf(s, "%g", &n); err != nil || n <= 0 {
		return 0, errors.New("want a size such as 512MiB or 2GiB")
	}
	return int64(n * float64(mult)), nil
}

// gitObjects adapts gitrepo to commitfs.
type gitObjects struct{ r *gitrepo.Repo }

func (g gitObjects) ReadTree(ctx context.Context, h commitfs.Hash) ([]commitfs.Entry, error) {
	ents, err := g.r.ReadTree(plumbing.Hash(h))
	if err != nil {
		return nil, err
	}
	out := make([]commitfs.Entry, len(ents))
	for i, e := range ents {
		out[i] = commitfs.Entry{Name: e.Name, Mode: uint32(e.Mode), Hash: commitfs.Hash(e.Hash)}
	}
	return out, nil
}

func (g gitObjects) BlobHead(ctx context.Context, h commitfs.Hash, max int64) (int64, []byte, error) {
	return g.r.BlobHead(plumbing.Hash(h), max)
}

func (g gitObjects) ReadBlob(ctx context.Context, h commitfs.Hash) ([]byte, error) {
	return g.r.ReadBlob(plumbing.Hash(h))
}
