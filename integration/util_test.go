package integration

import "github.com/lodevcs/lode/cas"

func blake3Hex(b []byte) string { return cas.Sum(b).String() }
