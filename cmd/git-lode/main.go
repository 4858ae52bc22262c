// Command git-lode is lode's single binary; installed on PATH it makes
// `git lode ...` work. See cmd/cli for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lodevcs/lode/cmd/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio(), os.Environ())
	stop()
	os.Exit(code)
}
