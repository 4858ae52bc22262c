package lfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
)

const goodOID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"

func TestParse(t *testing.T) {
	good := "version https://git-lfs.github.com/spec/v1\noid sha256:" + goodOID + "\nsize 12345\n"
	p, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Size != 12345 || p.Hex() != goodOID || string(p.Encode()) != good {
		t.Fatalf("got %+v, %q", p, p.Encode())
	}
	if _, err := Parse([]byte(strings.Replace(good, "git-lfs.github.com", "hawser.github.com", 1))); err != nil {
		t.Fatalf("alias: %v", err)
	}
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"plain":        {"hello\n", ErrNotPointer},
		"empty":        {"", ErrNotPointer},
		"lode":         {"version lode/2\n", ErrNotPointer},
		"no newline":   {"version https://git-lfs.github.com/spec/v1", ErrNotPointer},
		"other url":    {"version https://example.com/spec/v9\noid sha256:" + goodOID + "\nsize 1\n", ErrUnsupported},
		"crlf":         {strings.ReplaceAll(good, "\n", "\r\n"), ErrMalformed},
		"upper hex":    {strings.Replace(good, "4d7a", "4D7A", 1), ErrMalformed},
		"short hex":    {strings.Replace(good, goodOID, goodOID[:63], 1), ErrMalformed},
		"md5":          {strings.Replace(good, "sha256", "md5", 1), ErrMalformed},
		"leading zero": {strings.Replace(good, "12345", "012345", 1), ErrMalformed},
		"sign":         {strings.Replace(good, "12345", "+12345", 1), ErrMalformed},
		"negative":     {strings.Replace(good, "12345", "-1", 1), ErrMalformed},
		"huge":         {strings.Replace(good, "12345", "99999999999999999999", 1), ErrMalformed},
		"no size":      {"version https://git-lfs.github.com/spec/v1\noid sha256:" + goodOID + "\n", ErrMalformed},
		"order":        {"version https://git-lfs.github.com/spec/v1\nsize 1\noid sha256:" + goodOID + "\n", ErrMalformed},
		"extension":    {"version https://git-lfs.github.com/spec/v1\next-0-foo sha256:" + goodOID + "\noid sha256:" + goodOID + "\nsize 1\n", ErrUnsupported},
		"extra key":    {good + "x-y z\n", ErrUnsupported},
		"zero size":    {strings.Replace(good, "12345", "0", 1), ErrMalformed},
		"too long":     {good + strings.Repeat("x", MaxLen), ErrMalformed},
		"double space": {strings.Replace(good, "size ", "size  ", 1), ErrMalformed},
	} {
		_, err := Parse([]byte(tc.in))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	empty := sha256.Sum256(nil)
	if _, err := Parse(Pointer{OID: empty}.Encode()); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:" + goodOID + "\nsize 12345\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err == nil && !bytes.Equal(p.Encode(), b) && !bytes.Contains(b, []byte("hawser")) {
			t.Fatalf("accepted %q, which is not canonical (%q)", b, p.Encode())
		}
	})
}

func TestSource(t *testing.T) {
	dir := t.TempDir()
	data := []byte("the content of a large file")
	p := Pointer{OID: sha256.Sum256(data), Size: int64(len(data))}
	ctx := context.Background()
	s := &Source{Dir: dir}
	var out bytes.Buffer
	if err := s.WriteTo(ctx, p, &out); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing: %v", err)
	}
	path := ObjectPath(dir, p)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, data, 0o644)
	if !Has(dir, p) {
		t.Fatal("Has: false")
	}
	if err := s.WriteTo(ctx, p, &out); err != nil || out.String() != string(data) {
		t.Fatalf("got %q, %v", out.String(), err)
	}
	// Same size, other content.
	os.WriteFile(path, bytes.ToUpper(data), 0o644)
	out.Reset()
	if err := s.WriteTo(ctx, p, &out); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("damaged: %v", err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if err := Verify(ctx, f, p); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("Verify damaged: %v", err)
	}
	// Another size.
	os.WriteFile(path, data[1:], 0o644)
	if _, err := Open(dir, p); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("short: %v", err)
	}
	// What Fetch brings is checked too, and nothing is written before.
	os.Remove(path)
	s.Fetch = func(ctx context.Context, p Pointer) error {
		return os.WriteFile(path, bytes.ToUpper(data), 0o644)
	}
	out.Reset()
	if err := s.WriteTo(ctx, p, &out); !errors.Is(err, cas.ErrCorrupt) || out.Len() != 0 {
		t.Fatalf("damaged fetch: %v, %d bytes written", err, out.Len())
	}
	os.Remove(path)
	s.Fetch = func(ctx context.Context, p Pointer) error {
		return fmt.Errorf("%w: no", ErrMissing)
	}
	if err := s.WriteTo(ctx, p, &out); !errors.Is(err, ErrMissing) || out.Len() != 0 {
		t.Fatalf("failed fetch: %v", err)
	}
	s.Fetch = func(ctx context.Context, p Pointer) error {
		return os.WriteFile(path, data, 0o644)
	}
	if err := s.WriteTo(ctx, p, &out); err != nil || out.String() != string(data) {
		t.Fatalf("fetched: %q, %v", out.String(), err)
	}
}
