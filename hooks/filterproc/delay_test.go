package filterproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
)

// list is an expected answer to list_available_blobs.
type list struct {
	paths  []string
	status string
}

func TestDelay(t *testing.T) {
	canDelay := func(s *script, path, content string) *script {
		return s.request([]byte(content), "command=smudge", "pathname="+path, "can-delay=1")
	}
	listReq := func(s *script) *script { return s.line("command=list_available_blobs").flush() }
	// withBlob is canDelay with the blob= git sends on checkout; again is
	// git's second request for it, with empty content.
	withBlob := func(s *script, path, blob, content string) *script {
		return s.request([]byte(content), "command=smudge", "pathname="+path, "blob="+blob, "can-delay=1")
	}
	again := func(s *script, path, blob string) *script {
		return s.request(nil, "command=smudge", "pathname="+path, "blob="+blob)
	}
	blobs := map[string]string{"b1": "ONE", "b2": "TWO"}
	ok := func(content string) resp { return resp{status: "success", content: content} }
	delayed := resp{status: "delayed"}

	tests := []struct {
		name      string
		noDelay   bool // Options.Delay off
		spoolMem  int  // Options.SpoolMemory
		decline   []string
		delayErr  error // returned by Delay
		available [][]string
		availErr  error
		in        func(s *script) *script // after the handshake
		want      []any                   // resp or list
		calls     int                     // calls to Available
		stderr    string
		// blobContent: Options.DelayedContent reads blobs, and fails for
		// unknown ones.
		blobContent bool
	}{
		{
			name:      "delay and re-request",
			decline:   []string{"now"},
			available: [][]string{{"a"}, {"b"}},
			in: func(s *script) *script {
				canDelay(s, "a", "A")
				canDelay(s, "b", "B")
				canDelay(s, "now", "N")
				s.smudge("plain", []byte("P"))
				listReq(s)
				s.smudge("a", nil)
				listReq(s)
				s.smudge("b", nil)
				return listReq(s)
			},
			want: []any{delayed, delayed, ok("now false N"), ok("plain false P"),
				list{[]string{"a"}, "success"}, ok("a true A"),
				list{[]string{"b"}, "success"}, ok("b true B"),
				list{nil, "success"}},
			calls: 2,
		},
		{
			name:      "several ready at once",
			available: [][]string{{"b", "a"}},
			in: func(s *script) *script {
				canDelay(s, "a", "A")
				canDelay(s, "b", "B")
				listReq(s)
				s.smudge("b", nil)
				s.smudge("a", nil)
				return listReq(s)
			},
			want: []any{delayed, delayed, list{[]string{"b", "a"}, "success"},
				ok("b true B"), ok("a true A"), list{nil, "success"}},
			calls: 1,
		},
		{
			name: "nothing delayed",
			in: func(s *script) *script {
				return listReq(s)
			},
			want: []any{list{nil, "success"}},
		},
		{
			name:     "content too large to delay",
			spoolMem: 10,
			in: func(s *script) *script {
				return canDelay(s, "big", "0123456789abc")
			},
			want: []any{ok("big false 0123456789abc")},
		},
		{
			name:    "delay not negotiated",
			noDelay: true,
			in: func(s *script) *script {
				return canDelay(s, "a", "A")
			},
			want: []any{ok("a false A")},
		},
		{
			name:     "Delay fails",
			delayErr: errBoom,
			in: func(s *script) *script {
				return canDelay(s, "a", "A")
			},
			want:   []any{resp{status: "error"}},
			stderr: "git-lode: smudge a: boom\n",
		},
		{
			name:     "Delay aborts",
			delayErr: ErrAbort,
			in: func(s *script) *script {
				return canDelay(s, "a", "A")
			},
			want:   []any{resp{status: "abort"}},
			stderr: "git-lode: smudge a: filter aborted\n",
		},
		{
			name:     "Available fails",
			availErr: errBoom,
			in: func(s *script) *script {
				canDelay(s, "a", "A")
				return listReq(s)
			},
			want:   []any{delayed, list{nil, "error"}},
			calls:  1,
			stderr: "git-lode: list_available_blobs: boom\n",
		},
		{
			name:      "Available reports an unknown path",
			available: [][]string{{"zzz"}, {"zzz", "a"}},
			in: func(s *script) *script {
				canDelay(s, "a", "A")
				listReq(s)
				return listReq(s)
			},
			want:  []any{delayed, list{nil, "error"}, list{[]string{"a"}, "success"}},
			calls: 2,
			stderr: "git-lode: list_available_blobs: ignoring \"zzz\", which is not waiting to be reported\n" +
				"git-lode: list_available_blobs: the Delayer reported no pathname that is waiting\n" +
				"git-lode: list_available_blobs: ignoring \"zzz\", which is not waiting to be reported\n",
		},
		{
			name:        "content not kept when the blob is named",
			blobContent: true,
			available:   [][]string{{"b", "a"}, {"c"}},
			in: func(s *script) *script {
				withBlob(s, "a", "b1", "ONE")
				withBlob(s, "b", "b2", "TWO")
				canDelay(s, "c", "C") // no blob=: kept
				listReq(s)
				again(s, "b", "b2")
				again(s, "a", "b1")
				listReq(s)
				s.smudge("c", nil)
				return listReq(s)
			},
			want: []any{delayed, delayed, delayed, list{[]string{"b", "a"}, "success"},
				ok("b true TWO"), ok("a true ONE"), list{[]string{"c"}, "success"}, ok("c true C"), list{nil, "success"}},
			calls: 2,
		},
		{
			name:        "the blob cannot be read again",
			blobContent: true,
			available:   [][]string{{"a"}},
			in: func(s *script) *script {
				withBlob(s, "a", "gone", "X")
				listReq(s)
				again(s, "a", "gone")
				return listReq(s)
			},
			want:   []any{delayed, list{[]string{"a"}, "success"}, resp{status: "error"}, list{nil, "success"}},
			calls:  1,
			stderr: "git-lode: smudge a: read the delayed file's blob gone again: no blob gone\n",
		},
		{
			name:        "an empty blob with empty content is no retry",
			blobContent: true,
			available:   [][]string{{"a"}},
			in: func(s *script) *script {
				withBlob(s, "a", "b1", "ONE")
				again(s, "e", emptyBlobSHA1) // an empty file, not delayable
				listReq(s)
				return again(s, "a", "b1")
			},
			want:  []any{delayed, ok("e false "), list{[]string{"a"}, "success"}, ok("a true ONE")},
			calls: 1,
		},
		{
			name:      "Available gives up",
			available: [][]string{{}},
			in: func(s *script) *script {
				canDelay(s, "a", "A")
				return listReq(s)
			},
			want:  []any{delayed, list{nil, "success"}},
			calls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			d := &funcDelayer{
				funcHandler: funcHandler{smudge: func(_ context.Context, req *Request, r io.Reader, w io.Writer) error {
					b, err := io.ReadAll(r)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(w, "%s %v %s", req.Pathname, req.Delayed, b)
					return err
				}},
				delay: func(_ context.Context, req *Request, content []byte) (bool, error) {
					if tt.delayErr != nil {
						return false, tt.delayErr
					}
					for _, p := range tt.decline {
						if p == req.Pathname {
							return false, nil
						}
					}
					return true, nil
				},
				available: func(context.Context) ([]string, error) {
					calls++
					if tt.availErr != nil {
						return nil, tt.availErr
					}
					if len(tt.available) == 0 {
						t.Fatal("Available called too often")
					}
					next := tt.available[0]
					tt.available = tt.available[1:]
					return next, nil
				},
			}
			in := tt.in(new(script).handshake("clean", "smudge", "delay"))
			var out, stderr bytes.Buffer
			opts := Options{Delay: !tt.noDelay, Stderr: &stderr, SpoolMemory: tt.spoolMem}
			if tt.blobContent {
				opts.DelayedContent = func(_ context.Context, req *Request) ([]byte, error) {
					if b, ok := blobs[req.Blob]; ok {
						return []byte(b), nil
					}
					return nil, fmt.Errorf("no blob %s", req.Blob)
				}
			}
			err := Serve(context.Background(), bytes.NewReader(in.Bytes()), &out, d, opts)
			if err != nil {
				t.Fatalf("Serve = %v", err)
			}
			g := newGitReader(&out)
			g.lines()
			g.lines()
			for i, w := range tt.want {
				var got any
				var err error
				switch w.(type) {
				case resp:
					var r resp
					r, err = g.response()
					r.sizes = nil
					got = r
				case list:
					var l list
					var ls []string
					l.paths, err = g.lines()
					for i, p := range l.paths {
						l.paths[i] = p[len("pathname="):]
					}
					if err == nil {
						ls, err = g.lines()
						l.status = lastStatus(ls)
					}
					got = l
				}
				if err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
				if !reflect.DeepEqual(got, w) {
					t.Fatalf("answer %d = %+v, want %+v", i, got, w)
				}
			}
			if _, err := g.packet(); !errors.Is(err, io.EOF) {
				t.Errorf("unexpected output after the answers: %v", err)
			}
			if calls != tt.calls {
				t.Errorf("Available called %d times, want %d", calls, tt.calls)
			}
			if stderr.String() != tt.stderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.stderr)
			}
		})
	}
}
