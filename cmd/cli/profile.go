package cli

import (
	"fmt"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// startCPUProfile writes a CPU profile to path.PID (so that the several
// git-lode processes of one git command do not overwrite each other's)
// until the returned function is called. Set LODE_CPUPROFILE to use it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startHeapProfile writes the heap profile to path.PID whenever the live
// heap (as of the last collection) has grown by a tenth since the last
// write, checking every 100 ms, and once more when the returned function is
// called: the file ends up with the profile nearest the process's peak.
// Set LODE_MEMPROFILE to use it.
func startHeapProfile(path string) func() error {
	name := fmt.Sprintf("%s.%d", path, os.Getpid())
	write := func() error {
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("heap").WriteTo(f, 0)
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var peak uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > peak+peak/10 {
				peak = live
				_ = write()
			}
		}
	}()
	return func() error {
		close(done)
		<-stopped
		return nil
	}
}
