package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
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

// writeHeapProfile writes the live heap to path.PID. Set LODE_MEMPROFILE
// to have every git-lode process write one as it exits (with the
// process's structures still live at that point, a long-running filter's
// profile shows what it held).
func writeHeapProfile(path string) error {
	f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
