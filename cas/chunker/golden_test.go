package chunker

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

var update = flag.Bool("update", false, "rewrite "+goldenFile+" (only when format v1's boundaries are meant to change, which is never)")

const goldenFile = "testdata/boundaries_v1.txt"

// goldenInputSum pins goldenInput, so that a change to the test's data
// generators is not mistaken for a change of the chunking format.
const goldenInputSum = "04725c8f8ce2b8521d5f971db11c3f9c3b3b9371ae26ae3160f47402edec6170"

// goldenInput is 16 MiB of random bytes, 4 MiB of CSV-like text, 1 MiB of
// zeros (cut at MaxSize), 512 KiB of a four-byte pattern and an odd tail of
// random bytes (a short last chunk).
func goldenInput() []byte {
	return slices.Concat(
		randomBytes(1, 16<<20),
		csvBytes(2, 4<<20),
		make([]byte, 1<<20),
		bytes.Repeat([]byte("lode"), 128<<10),
		randomBytes(3, 100_003),
	)
}

func TestGolden(t *testing.T) {
	data := goldenInput()
	if sum := blake3.Sum256(data); hex.EncodeToString(sum[:]) != goldenInputSum {
		t.Fatalf("the golden input changed (BLAKE3 %x, want %s): the test's data generators must stay as they are", sum, goldenInputSum)
	}
	got := cutAll(data, Boundary)
	checkInvariants(t, got, len(data))
	if *update {
		var b strings.Builder
		fmt.Fprintf(&b, "# lode chunking format v1: chunk lengths of goldenInput() in golden_test.go, one per line.\n")
		fmt.Fprintf(&b, "# These boundaries are part of the on-disk format. Never rewrite this file to make a test pass.\n")
		for _, n := range got {
			fmt.Fprintf(&b, "%d\n", n)
		}
		if err := os.WriteFile(goldenFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readGolden(t)
	if slices.Equal(got, want) {
		return
	}
	i, off := 0, 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		off += got[i]
		i++
	}
	t.Fatalf("CHUNK BOUNDARIES CHANGED: they are part of lode's on-disk format v1, and a change "+
		"breaks deduplication against every existing store. First difference at chunk %d (offset %d): "+
		"got %v, want %v (%d chunks, want %d). Restore the algorithm; a new boundary rule needs a new "+
		"format version, not `go test -run Golden -update`.",
		i, off, got[i:min(i+3, len(got))], want[i:min(i+3, len(want))], len(got), len(want))
}

func readGolden(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var lens []int
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		n, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("%s:%d: %v", goldenFile, i+1, err)
		}
		lens = append(lens, n)
	}
	return lens
}

// gearTableSum pins the gear table: the BLAKE3 of its 2048 little-endian
// bytes.
const gearTableSum = "cf47b8bf3ff0f973573cfe2b54fb1ee47a1b2c097ec462deb58de2ddc95754ee"

func TestGearTable(t *testing.T) {
	var raw [len(gear) * 8]byte
	h := blake3.New()
	h.WriteString(gearSeed)
	if _, err := h.Digest().Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	for i := range gear {
		if want := binary.LittleEndian.Uint64(raw[8*i:]); gear[i] != want {
			t.Fatalf("gear[%d] = %#x, but the BLAKE3 XOF of %q gives %#x: run go generate", i, gear[i], gearSeed, want)
		}
	}
	if sum := blake3.Sum256(raw[:]); hex.EncodeToString(sum[:]) != gearTableSum {
		t.Fatalf("gear table BLAKE3 = %x, want %s: the gear table is part of chunking format v1 and must never change", sum, gearTableSum)
	}
}

func TestGeneratedTableUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds and runs gentable.go")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipped: no go command in PATH to run gentable.go")
	}
	out := filepath.Join(t.TempDir(), "table.go")
	cmd := exec.Command(goTool, "run", "gentable.go", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gentable.go: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("table.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("table.go differs from what gentable.go writes: run go generate, and never change the gear table of format v1")
	}
}

func TestFormatConstants(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"MinSize", MinSize, 8192},
		{"TargetSize", TargetSize, 65536},
		{"MaxSize", MaxSize, 131072},
		{"maskStrict", maskStrict, 0xffffc00000000000},
		{"maskLoose", maskLoose, 0xfff8000000000000},
		{"gear[0]", gear[0], 0xa7131dd75e023bb5},
		{"gear[255]", gear[255], 0xd4b47288db5f7ce9},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#x, want %#x: it is part of chunking format v1", tt.name, tt.got, tt.want)
		}
	}
}
