// Command testservers starts lode's test object-store servers detached
// (see package servers) and stops them again. integration/servers/run.sh
// is its front end.
//
//	testservers start DIR   start both servers, write DIR/env, print its path
//	testservers stop DIR    stop the servers whose pid files are in DIR
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lodevcs/lode/integration/servers"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: testservers start|stop DIR")
		os.Exit(2)
	}
	dir, err := filepath.Abs(os.Args[2])
	if err == nil {
		switch os.Args[1] {
		case "start":
			err = start(dir)
		case "stop":
			err = servers.StopDir(dir)
		default:
			err = fmt.Errorf("unknown command %q (want start or stop)", os.Args[1])
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testservers:", err)
		os.Exit(1)
	}
}

func start(dir string) error {
	envPath := filepath.Join(dir, servers.EnvFile)
	if _, err := os.Stat(envPath); err == nil {
		return fmt.Errorf("%s exists: servers already started there (stop them first)", envPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := servers.Launch(ctx, servers.Options{Dir: dir, S3: true, GCS: true, Detach: true})
	if err != nil {
		return err
	}
	path, err := servers.WriteEnvFile(dir, s.Env())
	if err != nil {
		_ = s.Stop()
		return err
	}
	fmt.Println(path)
	return nil
}
