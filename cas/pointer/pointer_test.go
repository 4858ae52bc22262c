package pointer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
)

var (
	testOID = cas.Sum([]byte("hello world\n"))
	testMan = cas.Sum([]byte("a manifest"))
)

func TestRoundTrip(t *testing.T) {
	for _, p := range []Pointer{
		{OID: testOID, Size: 12},
		{OID: testOID, Size: 128 << 10},
		{OID: testOID, Size: 8<<10 + 1, Manifest: testMan},
		{OID: testOID, Size: MaxFileSize, Manifest: testMan},
		{OID: cas.Sum(nil), Size: 0},
		{OID: testOID, Size: 12, V1: true},
		{OID: testOID, Size: MaxFileSize, V1: true},
		{OID: cas.Sum(nil), Size: 0, V1: true},
	} {
		b := p.Encode()
		if len(b) > MaxLen {
			t.Errorf("Encode(%v) is %d bytes, over MaxLen", p, len(b))
		}
		got, err := Parse(b)
		if err != nil || got != p {
			t.Errorf("Parse(Encode(%v)) = %v, %v", p, got, err)
		}
	}
}

func TestEncodeExact(t *testing.T) {
	tests := []struct {
		p    Pointer
		want string
	}{
		{Pointer{OID: testOID, Size: 12}, "version lode/2\noid blake3:" + testOID.String() + "\nsize 12\n"},
		{Pointer{OID: testOID, Size: 1 << 20, Manifest: testMan}, "version lode/2\noid blake3:" + testOID.String() + "\nsize 1048576\nmanifest blake3:" + testMan.String() + "\n"},
		{Pointer{OID: testOID, Size: 12, V1: true}, "version lode/1\noid blake3:" + testOID.String() + "\nsize 12\n"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("Encode = %q, want %q", got, tt.want)
		}
	}
}

func TestSingleChunk(t *testing.T) {
	for _, tt := range []struct {
		p    Pointer
		want bool
	}{
		{Pointer{OID: testOID, Size: 12}, true},
		{Pointer{OID: testOID, Size: 1 << 20, Manifest: testMan}, false},
		{Pointer{OID: testOID, Size: 12, V1: true}, false},
		{Pointer{OID: cas.Sum(nil)}, false},
	} {
		if got := tt.p.SingleChunk(); got != tt.want {
			t.Errorf("%v.SingleChunk() = %v", tt.p, got)
		}
	}
}

func TestParseRejects(t *testing.T) {
	oid := testOID.String()
	man := testMan.String()
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrNotPointer},
		{"plain text", "a,b,c\n1,2,3\n", ErrNotPointer},
		{"git lfs pointer", "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 1\n", ErrNotPointer},
		{"future version", "version lode/3\noid blake3:" + oid + "\nsize 12\n", ErrUnsupportedVersion},
		{"version 9", "version lode/9\noid blake3:" + oid + "\nsize 12\n", ErrUnsupportedVersion},
		{"empty version", "version lode/\noid blake3:" + oid + "\nsize 12\n", ErrMalformed},
		{"no newline after version", "version lode/2", ErrMalformed},
		{"crlf", "version lode/2\r\noid blake3:" + oid + "\r\nsize 12\r\n", ErrMalformed},
		{"missing trailing newline", "version lode/2\noid blake3:" + oid + "\nsize 12", ErrMalformed},
		{"uppercase hex", "version lode/2\noid blake3:" + strings.ToUpper(oid) + "\nsize 12\n", ErrMalformed},
		{"non-hex oid", "version lode/2\noid blake3:" + "z" + oid[1:] + "\nsize 12\n", ErrMalformed},
		{"short oid", "version lode/2\noid blake3:" + oid[:40] + "\nsize 12\n", ErrMalformed},
		{"sha256 oid", "version lode/2\noid sha256:" + oid + "\nsize 12\n", ErrMalformed},
		{"negative size", "version lode/2\noid blake3:" + oid + "\nsize -1\n", ErrMalformed},
		{"leading zero", "version lode/2\noid blake3:" + oid + "\nsize 012\n", ErrMalformed},
		{"oversized size", "version lode/2\noid blake3:" + oid + "\nsize 99999999999999999999\n", ErrMalformed},
		{"size over max", "version lode/2\noid blake3:" + oid + "\nsize 1125899906842625\n", ErrMalformed},
		{"extra key", "version lode/2\noid blake3:" + oid + "\nsize 12\nx-extra 1\n", ErrMalformed},
		{"v1 with manifest", "version lode/1\noid blake3:" + oid + "\nsize 20000\nmanifest blake3:" + man + "\n", ErrMalformed},
		{"keys swapped", "version lode/2\nsize 12\noid blake3:" + oid + "\n", ErrMalformed},
		{"zero size wrong oid", "version lode/2\noid blake3:" + oid + "\nsize 0\n", ErrMalformed},
		{"empty oid nonzero size", "version lode/2\noid blake3:" + cas.Sum(nil).String() + "\nsize 3\n", ErrMalformed},
		{"too long", "version lode/2\noid blake3:" + oid + "\nsize 12\n" + strings.Repeat("x", 200), ErrMalformed},
		{"big file without manifest", "version lode/2\noid blake3:" + oid + "\nsize 131073\n", ErrMalformed},
		{"small file with manifest", "version lode/2\noid blake3:" + oid + "\nsize 8192\nmanifest blake3:" + man + "\n", ErrMalformed},
		{"zero manifest", "version lode/2\noid blake3:" + oid + "\nsize 20000\nmanifest blake3:" + cas.ID{}.String() + "\n", ErrMalformed},
		{"bad manifest hex", "version lode/2\noid blake3:" + oid + "\nsize 20000\nmanifest blake3:" + man[:63] + "Z\n", ErrMalformed},
		{"manifest then extra", "version lode/2\noid blake3:" + oid + "\nsize 20000\nmanifest blake3:" + man + "\nx\n", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestMightBe(t *testing.T) {
	for in, want := range map[string]bool{
		"":                true,
		"ver":             true,
		"version lode/1":  true,
		"version lode/9x": true,
		"version https":   false,
		"hello":           false,
	} {
		if got := MightBe([]byte(in)); got != want {
			t.Errorf("MightBe(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(Pointer{OID: testOID, Size: 12}.Encode()))
	f.Add([]byte(Pointer{OID: testOID, Size: 1 << 30, Manifest: testMan}.Encode()))
	f.Add([]byte(Pointer{OID: testOID, Size: 12, V1: true}.Encode()))
	f.Add([]byte("version lode/1\noid blake3:\nsize 1\n"))
	f.Add([]byte("version lode/3\n"))
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrNotPointer) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Parse(%q) returned an unclassified error %v", b, err)
			}
			return
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatalf("Parse accepted non-canonical %q (canonical %q)", b, p.Encode())
		}
		if p.Size < 0 || p.Size > MaxFileSize || len(b) > MaxLen {
			t.Fatalf("Parse(%q) gave size %d", b, p.Size)
		}
	})
}
