package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Kind says how something found compares with what Install writes.
type Kind int

const (
	// Missing: not there.
	Missing Kind = iota
	// Current: exactly what Install writes.
	Current
	// Outdated: lode's, but Install would rewrite it (an older hook body
	// or a hook that lost its executable bit; a value naming another
	// git-lode executable; a key set more than once).
	Outdated
	// Foreign: someone else's. Install stops on a foreign setting unless
	// forced, and chains a foreign hook.
	Foreign
)

func (k Kind) String() string {
	switch k {
	case Missing:
		return "missing"
	case Current:
		return "current"
	case Outdated:
		return "outdated"
	case Foreign:
		return "foreign"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// State is what Status found.
type State struct {
	Scope    Scope          // the scope Settings describe
	Settings []SettingState // one per key Install manages, in a fixed order
	// Repo is the git directory of the repository containing Options.Dir,
	// or "" outside one (Hooks is then empty).
	Repo     string
	HooksDir string      // where git runs hooks from; "" outside a repository
	Hooks    []HookState // one per HookNames entry
}

// SettingState describes one configuration key.
type SettingState struct {
	Key    string   // "filter.lode.process"
	Want   string   // the value Install writes
	Values []string // the key's values in the scope, in file order; git uses the last
	Kind   Kind     // how Values compare with Want
	// Effective is the value git uses from Options.Dir, all scopes and
	// includes considered; "" when unset. It differs from the last of
	// Values when another scope overrides this one.
	Effective string
}

// HookState describes one hook.
type HookState struct {
	Name    string // "pre-push"
	Path    string // absolute path of the hook
	Kind    Kind
	Chained bool // Path+ChainedSuffix exists: a user's hook that lode's runs
	mode    fs.FileMode
}

// Status reports lode's configuration in o.Scope and, when o.Dir is inside
// a repository, its hooks. It changes nothing. o.Force and o.Hooks are
// ignored. It returns ErrNotRepo only for ScopeLocal outside a repository.
func Status(ctx context.Context, o Options) (State, error) {
	st, _, err := status(ctx, o, o.Scope == ScopeLocal)
	if err != nil {
		return State{}, fmt.Errorf("status: %w", err)
	}
	return st, nil
}

// status gathers the State; needRepo makes a missing repository an error.
func status(ctx context.Context, o Options, needRepo bool) (State, repo, error) {
	g := o.git()
	st := State{Scope: o.Scope}
	rp, err := g.findRepo(ctx)
	inRepo := err == nil
	switch {
	case errors.Is(err, ErrNotRepo) && !needRepo:
	case err != nil:
		return st, rp, err
	}
	scoped, err := g.readSection(ctx, scopeFlag(o.Scope))
	if err != nil {
		return st, rp, err
	}
	effective, err := g.readSection(ctx, "")
	if err != nil {
		return st, rp, err
	}
	cmd := o.command()
	for _, s := range settings {
		ss := SettingState{Key: s.key, Want: s.want(cmd), Values: scoped[s.key]}
		ss.Kind = s.kindOf(cmd, ss.Values)
		if e := effective[s.key]; len(e) > 0 {
			ss.Effective = e[len(e)-1]
		}
		st.Settings = append(st.Settings, ss)
	}
	if !inRepo {
		return st, rp, nil
	}
	st.Repo, st.HooksDir = rp.gitDir, rp.hooksDir
	for _, name := range hookNames {
		h, err := inspectHook(rp.hooksDir, name, hookBody(cmd, name))
		if err != nil {
			return st, rp, err
		}
		st.Hooks = append(st.Hooks, HookState{Name: name, Path: h.path, Kind: h.kind, Chained: h.chained, mode: h.mode})
	}
	return st, rp, nil
}

// setting returns the managed setting for s.
func (s SettingState) setting() setting {
	for _, x := range settings {
		if x.key == s.Key {
			return x
		}
	}
	panic("install: unknown key " + s.Key)
}
