package pointer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
)

var testOID = cas.Sum([]byte("hello world\n"))

func TestRoundTrip(t *testing.T) {
	for _, p := range []Pointer{
		{OID: testOID, Size: 12},
		{OID: testOID, Size: MaxFileSize},
		{OID: cas.Sum(nil), Size: 0},
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
	want := "version lode/1\noid blake3:" + testOID.String() + "\nsize 12\n"
	if got := (Pointer{OID: testOID, Size: 12}).String(); got != want {
		t.Fatalf("Encode = %q, want %q", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	oid := testOID.String()
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrNotPointer},
		{"plain text", "a,b,c\n1,2,3\n", ErrNotPointer},
		{"git lfs pointer", "version https://git-lfs.github.com/spec/v1\noid sha256:" + oid + "\nsize 1\n", ErrNotPointer},
		{"future version", "version lode/2\noid blake3:" + oid + "\nsize 12\n", ErrUnsupportedVersion},
		{"empty version", "version lode/\noid blake3:" + oid + "\nsize 12\n", ErrMalformed},
		{"no newline after version", "version lode/1", ErrMalformed},
		{"crlf", "version lode/1\r\noid blake3:" + oid + "\r\nsize 12\r\n", ErrMalformed},
		{"missing trailing newline", "version lode/1\noid blake3:" + oid + "\nsize 12", ErrMalformed},
		{"uppercase hex", "version lode/1\noid blake3:" + strings.ToUpper(oid) + "\nsize 12\n", ErrMalformed},
		{"non-hex oid", "version lode/1\noid blake3:" + "z" + oid[1:] + "\nsize 12\n", ErrMalformed},
		{"short oid", "version lode/1\noid blake3:" + oid[:40] + "\nsize 12\n", ErrMalformed},
		{"sha256 oid", "version lode/1\noid sha256:" + oid + "\nsize 12\n", ErrMalformed},
		{"negative size", "version lode/1\noid blake3:" + oid + "\nsize -1\n", ErrMalformed},
		{"leading zero", "version lode/1\noid blake3:" + oid + "\nsize 012\n", ErrMalformed},
		{"oversized size", "version lode/1\noid blake3:" + oid + "\nsize 99999999999999999999\n", ErrMalformed},
		{"size over max", "version lode/1\noid blake3:" + oid + "\nsize 1125899906842625\n", ErrMalformed},
		{"extra key", "version lode/1\noid blake3:" + oid + "\nsize 12\nx-extra 1\n", ErrMalformed},
		{"keys swapped", "version lode/1\nsize 12\noid blake3:" + oid + "\n", ErrMalformed},
		{"zero size wrong oid", "version lode/1\noid blake3:" + oid + "\nsize 0\n", ErrMalformed},
		{"empty oid nonzero size", "version lode/1\noid blake3:" + cas.Sum(nil).String() + "\nsize 3\n", ErrMalformed},
		{"too long", "version lode/1\noid blake3:" + oid + "\nsize 12\n" + strings.Repeat("x", 200), ErrMalformed},
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
	f.Add([]byte("version lode/1\noid blake3:\nsize 1\n"))
	f.Add([]byte("version lode/2\n"))
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
		if p.Size < 0 || p.Size > MaxFileSize {
			t.Fatalf("Parse(%q) gave size %d", b, p.Size)
		}
	})
}
