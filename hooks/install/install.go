package install

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that callers branch on with errors.Is.
var (
	// ErrConflict means a filter.lode setting holds a value that is not
	// lode's; the error names the key, its value and the scope. Install
	// with Options.Force replaces it.
	ErrConflict = errors.New("conflicting git configuration (use --force to replace it)")
	// ErrHookConflict means a hook that is not lode's exists and so does
	// the file Install would move it to (NAME.lode-chained); Force does not
	// help, the user has to move one of them.
	ErrHookConflict = errors.New("cannot chain the existing hook")
	// ErrNotRepo means the local scope or hooks were asked for in a
	// directory that is not inside a git repository.
	ErrNotRepo = errors.New("not in a git repository")
)

// Scope is the git configuration file that Install writes.
type Scope int

const (
	// ScopeLocal is the repository's own config (.git/config, shared by
	// its worktrees).
	ScopeLocal Scope = iota
	// ScopeGlobal is the user's config (git config --global).
	ScopeGlobal
	// ScopeSystem is the machine's config (git config --system).
	ScopeSystem
)

func (s Scope) String() string {
	switch s {
	case ScopeLocal:
		return "local"
	case ScopeGlobal:
		return "global"
	case ScopeSystem:
		return "system"
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// defaultCommand is the executable name used when Options.Command is "".
const defaultCommand = "git-lode"

// Options says what to install or remove, and where.
type Options struct {
	// Dir is a directory inside the repository. It is required for
	// ScopeLocal and for Hooks; "" means the current directory.
	Dir string
	// Scope selects the configuration file.
	Scope Scope
	// Force makes Install replace filter.lode values that are not
	// lode's. It never makes Install overwrite a user's hook.
	Force bool
	// Hooks makes Install and Uninstall also handle the repository's
	// hooks (HookNames). Outside a repository that is ErrNotRepo.
	Hooks bool
	// HooksOnly makes Install handle only the hooks and leave the
	// configuration alone (the filter installs the hooks of a clone made
	// with lode configured globally). It implies Hooks.
	HooksOnly bool
	// Command is the git-lode executable named in the configuration and
	// the hooks: a name looked up on PATH, or a path. Default "git-lode".
	Command string
	// Env is added to the inherited environment of the git child
	// processes (tests point GIT_CONFIG_GLOBAL at a scratch file).
	Env []string
}

func (o Options) command() string {
	if o.Command == "" {
		return defaultCommand
	}
	return o.Command
}

func (o Options) git() git { return git{dir: o.Dir, env: o.Env} }

// Change is one thing Install or Uninstall did, for the user to read.
// What is "set" or "unset" (a configuration value), "remove-section",
// "hook" (a hook written, moved or removed), or "warn" (something left
// alone that the user may want to look at; nothing changed).
type Change struct {
	What   string
	Detail string
}

func (c Change) String() string { return c.What + " " + c.Detail }

// Install writes lode's filter configuration in o.Scope and, with o.Hooks,
// its hooks. It checks everything before it changes anything: a conflicting
// value (ErrConflict, unless o.Force), a hook that cannot be chained
// (ErrHookConflict), or a missing repository (ErrNotRepo) leave the
// configuration and hooks as they were. It returns what it changed; nothing
// when all was in place already.
func Install(ctx context.Context, o Options) ([]Change, error) {
	if o.HooksOnly {
		o.Hooks = true
	}
	st, rp, err := status(ctx, o, o.Scope == ScopeLocal || o.Hooks)
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	var conflicts []error
	if !o.Force && !o.HooksOnly {
		for _, s := range st.Settings {
			if s.Kind == Foreign {
				conflicts = append(conflicts, fmt.Errorf("%w: %s is %q in the %s config, lode wants %q",
					ErrConflict, s.Key, s.Values[len(s.Values)-1], o.Scope, s.Want))
			}
		}
	}
	if o.Hooks {
		for _, h := range st.Hooks {
			if h.Kind == Foreign && h.Chained {
				conflicts = append(conflicts, fmt.Errorf("%w: %s is not lode's hook and %s exists too; move one of them away",
					ErrHookConflict, rp.display(h.Path), rp.display(h.Path+ChainedSuffix)))
			}
		}
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("install: %w", errors.Join(conflicts...))
	}

	g, flag := o.git(), scopeFlag(o.Scope)
	var changes []Change
	for _, s := range st.Settings {
		if s.Kind == Current || o.HooksOnly {
			continue
		}
		if _, err := g.run(ctx, "config", flag, "--replace-all", s.Key, s.Want); err != nil {
			return changes, fmt.Errorf("install: set %s: %w", s.Key, err)
		}
		detail := fmt.Sprintf("%s = %s (%s)", s.Key, s.Want, o.Scope)
		if len(s.Values) > 0 {
			detail += fmt.Sprintf(", was %s", quoteAll(s.Values))
		}
		changes = append(changes, Change{"set", detail})
	}
	if o.Hooks {
		for _, h := range st.Hooks {
			c, err := installHook(rp, hookFile{path: h.Path, kind: h.Kind, mode: h.mode, chained: h.Chained}, hookBody(o.command(), h.Name))
			if err != nil {
				return changes, fmt.Errorf("install: %w", err)
			}
			if c != nil {
				changes = append(changes, *c)
			}
		}
	}
	return changes, nil
}

// Uninstall removes lode's values from o.Scope (a key holding another value
// is left alone, and so is the [filter "lode"] section if anything else
// remains in it) and, with o.Hooks, lode's hooks, putting chained hooks
// back. It never touches .git/lode. It returns what it changed.
func Uninstall(ctx context.Context, o Options) ([]Change, error) {
	st, rp, err := status(ctx, o, o.Scope == ScopeLocal || o.Hooks)
	if err != nil {
		return nil, fmt.Errorf("uninstall: %w", err)
	}
	g, flag := o.git(), scopeFlag(o.Scope)
	var changes []Change
	removed := false
	for _, s := range st.Settings {
		for _, v := range dedupe(s.Values) {
			if s.setting().classify(o.command(), v) == Foreign {
				continue
			}
			if _, err := g.run(ctx, "config", flag, "--fixed-value", "--unset-all", s.Key, v); err != nil {
				return changes, fmt.Errorf("uninstall: unset %s: %w", s.Key, err)
			}
			removed = true
			changes = append(changes, Change{"unset", fmt.Sprintf("%s = %s (%s)", s.Key, v, o.Scope)})
		}
	}
	if removed {
		left, err := g.readSection(ctx, flag)
		if err != nil {
			return changes, fmt.Errorf("uninstall: %w", err)
		}
		for _, sec := range sections {
			if hasKeyIn(left, sec) {
				continue
			}
			_, err := g.run(ctx, "config", flag, "--remove-section", sec)
			var ge *gitError
			name, _ := strings.CutPrefix(sec, "filter.")
			switch {
			case err == nil:
				changes = append(changes, Change{"remove-section", fmt.Sprintf("[filter %q] (%s)", name, o.Scope)})
			case errors.As(err, &ge) && strings.Contains(ge.stderr, "no such section"):
				// git already dropped the empty section, or it was
				// never there.
			default:
				return changes, fmt.Errorf("uninstall: %w", err)
			}
		}
	}
	if o.Hooks {
		for _, h := range st.Hooks {
			cs, err := uninstallHook(rp, hookFile{path: h.Path, kind: h.Kind, mode: h.mode, chained: h.Chained})
			changes = append(changes, cs...)
			if err != nil {
				return changes, fmt.Errorf("uninstall: %w", err)
			}
		}
	}
	return changes, nil
}

// hasKeyIn reports whether keys holds a key of section sec.
func hasKeyIn(keys map[string][]string, sec string) bool {
	for k := range keys {
		if strings.HasPrefix(k, sec+".") {
			return true
		}
	}
	return false
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func dedupe(vs []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
