package cas

import (
	"errors"
	"testing"
)

func TestParseID(t *testing.T) {
	good := Sum([]byte("hello"))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"round trip", good.String(), true},
		{"empty", "", false},
		{"short", good.String()[:63], false},
		{"long", good.String() + "0", false},
		{"uppercase", "A" + good.String()[1:], false},
		{"non-hex", "g" + good.String()[1:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseID(tt.in)
			if tt.ok {
				if err != nil || id != good {
					t.Fatalf("ParseID(%q) = %v, %v; want %v", tt.in, id, err, good)
				}
				return
			}
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("ParseID(%q) error = %v, want ErrInvalidID", tt.in, err)
			}
		})
	}
}

func TestSumKnownAnswer(t *testing.T) {
	// BLAKE3 of the empty input, from the BLAKE3 reference test vectors.
	const want = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
	if got := Sum(nil).String(); got != want {
		t.Fatalf("Sum(nil) = %s, want %s", got, want)
	}
}

func TestManifestIDDiffersFromOID(t *testing.T) {
	oid := Sum([]byte("x"))
	m := ManifestID(oid)
	if m == oid || m.IsZero() {
		t.Fatalf("ManifestID(%v) = %v", oid, m)
	}
	if ManifestID(oid) != m {
		t.Fatal("ManifestID is not deterministic")
	}
}
