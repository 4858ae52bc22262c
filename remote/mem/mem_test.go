package mem_test

import (
	"testing"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
	"github.com/lodevcs/lode/remote/remotetest"
)

func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Backend { return mem.New() })
}
