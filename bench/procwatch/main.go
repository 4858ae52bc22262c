// Command procwatch runs a command and samples its process tree while it
// runs: the open files of the filter process and the memory of the tree.
// bench/manyfiles.sh wraps `git add` and `git clone` in it.
//
//	procwatch -o FILE [-interval 100ms] [-match filter-process] -- CMD [ARGS...]
//
// Every interval it samples the descendants of CMD and, for each one whose
// command line contains -match, counts the entries of /proc/PID/fd. It
// finds the descendants by scanning /proc for parent pids on the first
// sample and then every -rescan samples (a scan reads every process's stat
// file: on a slow VM about 40 us each), and samples the known ones in
// between. At the end it writes to FILE, one "key value"
// a line:
//
//	fd_peak           most open files seen in one matching process
//	filter_hwm_kib    largest VmHWM (peak RSS) seen of a matching process
//	filter_procs      how many matching processes were seen
//	tree_rss_peak_kib largest sum of VmRSS over the whole tree at one sample
//	samples           how many samples were taken
//
// and exits with CMD's status. Sampling misses what lives less than one
// interval; the peaks are lower bounds.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "file to write the figures to")
	interval := flag.Duration("interval", 100*time.Millisecond, "sampling interval")
	match := flag.String("match", "filter-process", "substring of the command line of the processes whose open files are counted")
	rescan := flag.Int("rescan", 5, "look for new descendants every this many samples")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: procwatch -o FILE [-interval D] [-match S] -- CMD [ARGS...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "procwatch:", err)
		os.Exit(127)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	w := &watch{root: cmd.Process.Pid, match: []byte(*match), seen: map[int]bool{}, rescan: max(1, *rescan)}
	tick := time.NewTicker(*interval)
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-tick.C:
			w.sample()
		}
	}
	tick.Stop()
	res := fmt.Sprintf("fd_peak %d\nfilter_hwm_kib %d\nfilter_procs %d\ntree_rss_peak_kib %d\nsamples %d\n",
		w.fdPeak, w.hwm, len(w.seen), w.treeRSS, w.samples)
	if werr := os.WriteFile(*out, []byte(res), 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "procwatch:", werr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	default:
		fmt.Fprintln(os.Stderr, "procwatch:", err)
		os.Exit(1)
	}
}

type watch struct {
	root    int
	match   []byte
	seen    map[int]bool
	rescan  int
	tree    []int // the descendants found by the last scan
	fdPeak  int
	hwm     int64
	treeRSS int64
	samples int
}

func (w *watch) sample() {
	if w.samples%w.rescan == 0 {
		w.scan()
	}
	w.samples++
	var rss int64
	for _, pid := range w.tree {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		rss += field(st, "VmRSS:")
		cl, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if !bytes.Contains(cl, w.match) {
			continue
		}
		w.seen[pid] = true
		w.hwm = max(w.hwm, field(st, "VmHWM:"))
		if fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd"); err == nil {
			w.fdPeak = max(w.fdPeak, len(fds))
		}
	}
	w.treeRSS = max(w.treeRSS, rss)
}

// scan finds the descendants of root.
func (w *watch) scan() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := ppid(pid); ok {
			parent[pid] = pp
		}
	}
	w.tree = w.tree[:0]
	for pid := range parent {
		if w.descends(pid, parent) {
			w.tree = append(w.tree, pid)
		}
	}
}

// descends reports whether pid is root or below it.
func (w *watch) descends(pid int, parent map[int]int) bool {
	for i := 0; i < 64 && pid > 1; i++ {
		if pid == w.root {
			return true
		}
		pid = parent[pid]
	}
	return false
}

// ppid reads the parent pid from /proc/PID/stat ("pid (comm) state ppid ...";
// comm may hold spaces and parentheses, so parse after the last ')').
func ppid(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// field returns the kB value of a /proc/PID/status line such as "VmRSS:".
func field(status []byte, key string) int64 {
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return 0
	}
	rest := status[i+len(key):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	f := strings.Fields(string(rest))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(f[0], 10, 64)
	return v
}
