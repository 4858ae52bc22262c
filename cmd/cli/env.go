package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/lodevcs/lode/hooks/install"
	"github.com/lodevcs/lode/remote"
	"github.com/spf13/cobra"
)

// envVars are the environment variables env shows when they are set.
var envVars = [...]string{"LODE_REMOTE_URL", "LODE_STORE_DIR", "GIT_LODE_SKIP_SMUDGE", "LODE_NO_PROGRESS", "LODE_DEBUG", "LODE_PACK_SIZE", "XDG_CONFIG_HOME", "GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"}

func (a *app) envCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "env",
		Short: "Show how lode is set up here: version, filter and hooks, remote, store, configuration files",
		Long: `Prints what lode sees, for a bug report or when something does not work: the
versions of git-lode and git; the filter.lode and filter.lode-above settings
as git sees them and the file each comes from (git config --show-origin);
the hooks; the configuration files read and whether each parsed; the
environment variables that matter; the lode remote and where its URL came
from; the local store; the size rule. Configuration problems are shown, not
fatal: the remote and store shown are then those the filter would use.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.envReport(cmd.Context(), a.io.Out)
			return nil
		},
	}
}

// envReport writes the report of the env command. It never fails: what it
// cannot find out, it says.
func (a *app) envReport(ctx context.Context, w io.Writer) {
	// The remote and store are shown as the filter would find them, and
	// the configuration's problems below rather than as warnings.
	a.lenient, a.quiet = true, true
	fmt.Fprintf(w, "git-lode %s\n", versionString())
	if out, err := a.git(ctx, "", nil, "version"); err == nil {
		fmt.Fprintf(w, "%s\n", strings.TrimSpace(string(out)))
	} else {
		fmt.Fprintf(w, "git: %v\n", err)
	}

	r, err := a.findRepo(ctx)
	switch {
	case errors.Is(err, errNotRepo):
		fmt.Fprintln(w, "Repository: none (not inside a git repository)")
		r = nil
	case err != nil:
		fmt.Fprintf(w, "Repository: %v\n", err)
		r = nil
	case r.workTree == "":
		fmt.Fprintf(w, "Repository: %s (bare)\n", r.gitDir)
	default:
		fmt.Fprintf(w, "Repository: %s (git dir %s)\n", r.workTree, r.gitDir)
	}
	dir := ""
	if r != nil {
		dir = r.dir()
	}

	fmt.Fprintln(w, "Filter (git config --show-origin):")
	out, err := a.git(ctx, dir, nil, "config", "--show-origin", "--show-scope", "-z", "--get-regexp", `^filter\.lode(-above)?\.`)
	recs := bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0})
	switch {
	case err != nil && len(out) == 0:
		fmt.Fprintln(w, "  not set: run 'git lode install'")
	case len(recs)%3 != 0:
		fmt.Fprintf(w, "  git config printed %q\n", out)
	default:
		for i := 0; i+2 < len(recs); i += 3 {
			key, value, _ := strings.Cut(string(recs[i+2]), "\n")
			fmt.Fprintf(w, "  %s = %s  (%s: %s)\n", key, value, recs[i], recs[i+1])
		}
	}

	if r != nil {
		st, err := install.Status(ctx, install.Options{Dir: dir, Scope: install.ScopeGlobal})
		switch {
		case err != nil:
			fmt.Fprintf(w, "Hooks: %v\n", err)
		default:
			fmt.Fprintf(w, "Hooks: %s\n", st.HooksDir)
			for _, h := range st.Hooks {
				fmt.Fprintf(w, "  %s: %s\n", h.Name, hookState(h))
			}
		}
	}

	fmt.Fprintln(w, "Configuration files:")
	cfg := a.readConfig(ctx, r)
	for _, f := range cfg.files {
		switch {
		case !f.found:
			fmt.Fprintf(w, "  %s: not found\n", f.name)
		case f.problems == 0:
			fmt.Fprintf(w, "  %s: read, OK\n", f.name)
		default:
			fmt.Fprintf(w, "  %s: %d problem(s), the rest is used by the filter; commands fail until they are fixed:\n", f.name, f.problems)
			for _, p := range cfg.problems {
				if p.file == f.name {
					fmt.Fprintf(w, "    %v\n", p)
				}
			}
		}
	}
	if len(cfg.problems) > 0 {
		fmt.Fprintf(w, "  known settings: %s\n", knownList())
	}
	var set []string
	for _, k := range envVars {
		if v, ok := a.env[k]; ok {
			if k == "LODE_REMOTE_URL" {
				v = remote.RedactURL(v)
			}
			set = append(set, k+"="+v)
		}
	}
	if len(set) > 0 {
		fmt.Fprintf(w, "Environment: %s\n", strings.Join(set, " "))
	}
	if r == nil {
		return
	}

	if ru, err := a.resolveRemote(ctx, r, "", ""); err != nil {
		fmt.Fprintf(w, "Remote: none: %v\n", err)
	} else {
		ro := ""
		if ru.readOnly {
			ro = ", read only"
		}
		fmt.Fprintf(w, "Remote: %s (from %s%s)\n", remote.RedactURL(ru.url), ru.source, ro)
	}
	if d, err := a.storeDir(ctx, r); err != nil {
		fmt.Fprintf(w, "Store: %v\n", err)
	} else {
		from := "the default"
		if loc, err := a.storeLocation(ctx, r); err == nil && loc.value != "" {
			from = loc.source
		}
		fmt.Fprintf(w, "Store: %s (%s)\n", d, from)
	}
	if r.workTree != "" {
		lines, _ := readLines(filepath.Join(r.workTree, ".gitattributes"))
		if line, err := a.sizeRuleStatus(ctx, r, lines); err == nil && line != "" {
			fmt.Fprintln(w, line)
		} else if err == nil {
			fmt.Fprintln(w, "Size rule: none")
		}
	}
}

// hookState words what install found of a hook.
func hookState(h install.HookState) string {
	var s string
	switch h.Kind {
	case install.Current:
		s = "lode's"
	case install.Outdated:
		s = "lode's, outdated: run 'git lode install'"
	case install.Missing:
		s = "missing: run 'git lode install' here (a clone's filter installs it too)"
	case install.Foreign:
		s = "not lode's: run 'git lode install' to chain it"
	}
	if h.Chained {
		s += "; runs " + filepath.Base(h.Path) + install.ChainedSuffix + " after"
	}
	return s
}
