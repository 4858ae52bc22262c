package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// config is the union of lode's TOML settings. Sources are read in order
// of increasing precedence: the repository's committed .lode.toml, then the
// user's $XDG_CONFIG_HOME/lode/config.toml; LODE_* environment variables
// override both (as git's own config overrides .lfsconfig for Git LFS).
// Paths in any of them are resolved by resolveLocation.
//
// A setting that cannot be used (an unknown key, a wrong type, a bad
// value, a file that is not TOML) is a problem: commands fail on it
// (loadConfig returns an error naming the file, the key and the known
// settings), while what git runs (the filter, the pre-push hook: an app
// with lenient set) warns once and goes on with the settings it can use.
type config struct {
	Store struct {
		// Dir is the local store directory (default <git dir>/lode); a
		// shared directory lets many clones (CI caches) share objects.
		Dir string
	}
	Remote struct {
		// URL is where pushes upload and fetches download:
		// s3://bucket/prefix, gs://bucket/prefix, file:///path, a path,
		// or http(s)://host/path (read only).
		URL string
	}
	Prune struct {
		// Recent is how many days of history `git lode prune` keeps in
		// the local store besides the tips (default 7; 0 keeps the tips
		// only).
		Recent *int
		// Grace is how long `git lode prune --remote` waits between
		// condemning a pack and deleting it (a Go duration, default
		// "24h"): longer than any push may take.
		Grace string
	}
	Track struct {
		// Above is the size rule's threshold in bytes (0: none): files
		// of at least this size that no pattern selects go to lode
		// (`git lode track --above`). Only the repository's .lode.toml
		// sets it, so that it is the same for everyone who clones.
		Above int64
	}

	// storeFrom, remoteFrom and aboveFrom name the source that set
	// Store.Dir, Remote.URL and Track.Above last, for messages.
	storeFrom, remoteFrom, aboveFrom string

	// files are the configuration files looked at, in order of
	// precedence (lowest first).
	files []configFile
	// problems are the settings that could not be used, in file order.
	problems []*configProblem
}

// configFile is one configuration file and what became of it.
type configFile struct {
	name     string // a path, or ".lode.toml (HEAD:)" when read from git
	found    bool
	problems int // how many of config.problems are in it
}

// configProblem is a setting of a configuration file that cannot be used.
type configProblem struct {
	file string // as configFile.name
	key  string // "remote.ulr"; "" when the whole file is unusable
	msg  string // what is wrong and what to do
}

func (p *configProblem) Error() string {
	if p.key == "" {
		return fmt.Sprintf("configuration %s: %s", p.file, p.msg)
	}
	return fmt.Sprintf("configuration %s: %s: %s", p.file, p.key, p.msg)
}

// settingKind is the TOML type a setting takes.
type settingKind int

const (
	kindString settingKind = iota
	kindInt
	kindSize // a string such as "10MiB", or an integer (bytes)
)

// knownSetting is one setting lode reads.
type knownSetting struct {
	key      string // "remote.url"
	kind     settingKind
	repoOnly bool   // only .lode.toml may set it
	help     string // what the value is, for messages
}

// knownSettings are the settings lode reads, in the order messages list them.
var knownSettings = [...]knownSetting{
	{key: "remote.url", kind: kindString, help: "a URL (s3://, gs://, file://, http(s)://) or a path"},
	{key: "store.dir", kind: kindString, help: "a directory"},
	{key: "prune.recent", kind: kindInt, help: "a number of days, 0 or more"},
	{key: "prune.grace", kind: kindString, help: `a duration such as "24h"`},
	{key: "track.above", kind: kindSize, repoOnly: true, help: `a size such as "10MiB"`},
}

// knownList is the known settings, for messages.
func knownList() string {
	names := make([]string, len(knownSettings))
	for i, s := range knownSettings {
		names[i] = s.key
	}
	return strings.Join(names, ", ")
}

// configSource is one TOML document and where it came from.
type configSource struct {
	name string // for messages
	data []byte
	repo bool // the repository's .lode.toml
}

func (a *app) userConfigPath() string {
	base := a.getenv("XDG_CONFIG_HOME")
	if base == "" {
		home := a.getenv("HOME")
		if home == "" {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "lode", "config.toml")
}

// repoConfig returns the repository's .lode.toml: from the work tree, or,
// when it is not there (a clone whose checkout has not written it yet, or a
// bare repository), from the index, or from HEAD. It returns nil when
// there is none; a file that cannot be read is a problem in it.
func (a *app) repoConfig(ctx context.Context, r *repo) (*configSource, *configProblem) {
	if r == nil {
		return nil, nil
	}
	if r.workTree != "" {
		p := filepath.Join(r.workTree, ".lode.toml")
		b, err := os.ReadFile(p)
		if err == nil {
			return &configSource{name: p, data: b, repo: true}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, &configProblem{file: p, msg: fmt.Sprintf("cannot read it: %v", err)}
		}
	}
	dir := r.workTree
	if dir == "" {
		dir = r.gitDir
	}
	specs := []string{":.lode.toml", "HEAD:.lode.toml"}
	if r.workTree == "" {
		specs = specs[1:]
	}
	// One git process for both places (the filter starts often).
	out, err := a.git(ctx, dir, []byte(strings.Join(specs, "\n")+"\n"), "cat-file", "--batch")
	if err != nil {
		return nil, nil
	}
	for _, spec := range specs {
		// "<oid> blob <size>\n<content>\n", or "<spec> missing\n".
		hdr, rest, ok := bytes.Cut(out, []byte{'\n'})
		if !ok {
			break
		}
		f := strings.Fields(string(hdr))
		if len(f) != 3 || f[1] != "blob" {
			out = rest
			continue
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n > len(rest) {
			break
		}
		name := ".lode.toml (" + strings.TrimSuffix(spec, ".lode.toml") + ")"
		if n > 1<<20 {
			return nil, &configProblem{file: name, msg: fmt.Sprintf("it is %d bytes in git; that is not a configuration file", n)}
		}
		return &configSource{name: name, data: rest[:n], repo: true}, nil
	}
	return nil, nil
}

// loadConfig reads the configuration that applies to r (r may be nil
// outside a repository). With problems it fails, naming them, unless the
// app is lenient: then it warns about each (once per process) and returns
// what it could use.
func (a *app) loadConfig(ctx context.Context, r *repo) (*config, error) {
	cfg := a.readConfig(ctx, r)
	if len(cfg.problems) == 0 {
		return cfg, nil
	}
	if a.lenient {
		for _, p := range cfg.problems {
			a.configWarning(fmt.Sprintf("%v (lode goes on without it; fix it)", p))
		}
		return cfg, nil
	}
	return nil, configError(cfg.problems)
}

// configError words the problems of a configuration for a command that
// stops on them.
func configError(ps []*configProblem) error {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.Error())
	}
	fmt.Fprintf(&b, "\nknown settings: %s (docs/FORMAT.md, Configuration)", knownList())
	return errors.New(b.String())
}

// readConfig reads and checks every configuration source of r, keeping
// what it can use and the problems.
func (a *app) readConfig(ctx context.Context, r *repo) *config {
	cfg := &config{}
	add := func(name string, src *configSource, prob *configProblem) {
		f := configFile{name: name, found: src != nil || prob != nil}
		n := len(cfg.problems)
		if prob != nil {
			cfg.problems = append(cfg.problems, prob)
		}
		if src != nil {
			cfg.apply(src)
		}
		f.problems = len(cfg.problems) - n
		cfg.files = append(cfg.files, f)
	}
	rc, prob := a.repoConfig(ctx, r)
	switch {
	case prob != nil:
		add(prob.file, nil, prob)
	case rc != nil:
		add(rc.name, rc, nil)
	case r != nil && r.workTree != "":
		add(filepath.Join(r.workTree, ".lode.toml"), nil, nil)
	}
	if p := a.userConfigPath(); p != "" {
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			add(p, &configSource{name: p, data: b}, nil)
		case errors.Is(err, fs.ErrNotExist):
			add(p, nil, nil)
		default:
			add(p, nil, &configProblem{file: p, msg: fmt.Sprintf("cannot read it: %v", err)})
		}
	}
	return cfg
}

// apply checks the settings of s and takes those it can use.
func (cfg *config) apply(s *configSource) {
	problem := func(key, format string, args ...any) {
		cfg.problems = append(cfg.problems, &configProblem{file: s.name, key: key, msg: fmt.Sprintf(format, args...)})
	}
	var doc map[string]any
	md, err := toml.Decode(string(s.data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			problem("", "not valid TOML: line %d: %s (the whole file is ignored)", pe.Position.Line, pe.Message)
		} else {
			problem("", "not valid TOML: %v (the whole file is ignored)", err)
		}
		return
	}
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		name := k.String()
		if seen[name] {
			continue
		}
		switch len(k) {
		case 1:
			if knownTable(k[0]) {
				if md.Type(k[0]) != "Hash" {
					problem(name, "is a table ([%s] and its settings below it), not a %s", k[0], tomlType(md.Type(k[0])))
				}
				continue
			}
			if md.Type(k[0]) == "Hash" {
				seen[name] = true
				// Its keys are not reported one by one.
				for _, kk := range md.Keys() {
					if len(kk) > 1 && kk[0] == k[0] {
						seen[kk.String()] = true
					}
				}
				problem(name, "unknown table [%s]%s", name, suggest(name, true))
				continue
			}
			problem(name, "unknown setting%s", suggest(name, false))
			continue
		case 2:
		default:
			if !seen[k[:2].String()] {
				problem(name, "unknown setting%s", suggest(k[:2].String(), false))
			}
			seen[k[:2].String()] = true
			continue
		}
		if !knownTable(k[0]) {
			continue // reported with its table
		}
		ks, ok := lookupSetting(name)
		if !ok {
			seen[name] = true
			problem(name, "unknown setting%s", suggest(name, false))
			continue
		}
		v := doc[k[0]].(map[string]any)[k[1]]
		if ks.repoOnly && !s.repo {
			problem(name, "belongs in the repository's .lode.toml, committed, so that it is the same for everyone who clones; it is ignored here")
			continue
		}
		cfg.set(ks, v, s.name, problem)
	}
}

// set checks v for ks and takes it.
func (cfg *config) set(ks knownSetting, v any, from string, problem func(key, format string, args ...any)) {
	wrongType := func() {
		problem(ks.key, "is %s; it is %s", describeValue(v), ks.help)
	}
	switch ks.key {
	case "remote.url":
		s, ok := v.(string)
		if !ok {
			wrongType()
			return
		}
		cfg.Remote.URL, cfg.remoteFrom = s, from
	case "store.dir":
		s, ok := v.(string)
		if !ok {
			wrongType()
			return
		}
		cfg.Store.Dir, cfg.storeFrom = s, from
	case "prune.recent":
		n, ok := v.(int64)
		if !ok || n < 0 || n > 1<<20 {
			wrongType()
			return
		}
		days := int(n)
		cfg.Prune.Recent = &days
	case "prune.grace":
		s, ok := v.(string)
		if !ok {
			wrongType()
			return
		}
		if d, err := time.ParseDuration(s); err != nil || d < 0 {
			problem(ks.key, "%q is not a duration; write one such as \"24h\"", s)
			return
		}
		cfg.Prune.Grace = s
	case "track.above":
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case string:
			var err error
			if n, err = parseByteSize(x); err != nil {
				problem(ks.key, "%v; write a size such as \"10MiB\"", err)
				return
			}
		default:
			wrongType()
			return
		}
		if n <= 0 {
			problem(ks.key, "is %s; it must be more than 0 bytes", describeValue(v))
			return
		}
		cfg.Track.Above, cfg.aboveFrom = n, from
	}
}

func knownTable(name string) bool {
	for _, s := range knownSettings {
		if t, _, _ := strings.Cut(s.key, "."); t == name {
			return true
		}
	}
	return false
}

func lookupSetting(key string) (knownSetting, bool) {
	for _, s := range knownSettings {
		if s.key == key {
			return s, true
		}
	}
	return knownSetting{}, false
}

// suggest names the known setting (or table) closest to key when it is
// a likely typo of it.
func suggest(key string, table bool) string {
	best, bestD := "", 3
	for _, s := range knownSettings {
		cand := s.key
		if table {
			cand, _, _ = strings.Cut(s.key, ".")
		}
		if d := editDistance(strings.ToLower(key), cand); d < bestD {
			best, bestD = cand, d
		}
	}
	if best == "" {
		return ""
	}
	if table {
		return fmt.Sprintf(" (did you mean [%s]?)", best)
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c = 1 + min(prev[j-1], prev[j], cur[j-1])
			}
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describeValue says what a TOML value is, for messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the integer %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("%v", x)
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// tomlType words a TOML type name of toml.MetaData.Type.
func tomlType(t string) string {
	switch t {
	case "String":
		return "string"
	case "Integer":
		return "integer"
	case "Float":
		return "number"
	case "Bool":
		return "boolean"
	case "Array", "ArrayHash":
		return "array"
	}
	return strings.ToLower(t)
}
