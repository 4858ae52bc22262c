package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// manCommand is the hidden 'git lode man DIR' that 'make install' runs: it
// writes the manual pages of git-lode and of each command into DIR.
func (a *app) manCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the manual pages (git-lode.1, git-lode-push.1, ...) into DIR",
		Hidden: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("name the directory to write the pages into")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := writeManPages(cmd.Root(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.io.Err, "lode: wrote %d manual page(s) into %s\n", n, args[0])
			return nil
		},
	}
}

// writeManPages writes a section 1 page for root and for every command
// that --help lists into dir, which it creates, and returns how many.
// git-lode.1 is the page that 'git lode --help' and 'git help lode' open
// (git runs 'man git-lode'); each command has git-lode-NAME.1. A page
// says what --help says, in the same words and layout: paragraphs are
// filled to the reader's width, indented lines (examples, lists) are kept
// as they are.
func writeManPages(root *cobra.Command, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	src := "lode " + strings.Fields(versionString())[0]
	n := 0
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		name := strings.ReplaceAll(c.CommandPath(), " ", "-")
		if err := os.WriteFile(filepath.Join(dir, name+".1"), manPage(c, src), 0o644); err != nil {
			return fmt.Errorf("write the manual pages: %w", err)
		}
		n++
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
				if err := walk(sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return n, walk(root)
}

// manPage renders c's help as a man page (man(7) macros).
func manPage(c *cobra.Command, source string) []byte {
	var b bytes.Buffer
	name := strings.ReplaceAll(c.CommandPath(), " ", "-")
	fmt.Fprintf(&b, ".TH %s 1 \"\" %s \"lode manual\"\n", roffQuote(strings.ToUpper(name)), roffQuote(source))
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", roffEscape(name), roffEscape(c.Short))
	b.WriteString(".SH SYNOPSIS\n.nf\n")
	use := "git lode COMMAND [ARGS...]"
	if c.HasParent() {
		use = "git lode" + strings.TrimPrefix(c.UseLine(), c.Root().Name())
	}
	fmt.Fprintf(&b, ".B %s\n.fi\n", roffEscape(use))
	b.WriteString(".SH DESCRIPTION\n")
	long := c.Long
	if long == "" {
		long = c.Short + "."
	}
	roffText(&b, long)
	if !c.HasParent() {
		b.WriteString(".SH COMMANDS\n")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
				fmt.Fprintf(&b, ".TP\n.B git lode %s\n%s\n", roffEscape(sub.Name()), roffEscape(sub.Short))
			}
		}
		b.WriteString(".PP\nEach command has its own page: git-lode-NAME(1), for example git-lode-push(1).\n")
	}
	if fl := c.NonInheritedFlags(); fl.HasAvailableFlags() {
		b.WriteString(".SH OPTIONS\n.nf\n")
		b.WriteString(roffLines(strings.TrimRight(fl.FlagUsagesWrapped(72), "\n")))
		b.WriteString(".fi\n")
	}
	b.WriteString(".SH SEE ALSO\n")
	var see []string
	if c.HasParent() {
		see = append(see, "git-lode(1)")
	} else {
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
				see = append(see, strings.ReplaceAll(sub.CommandPath(), " ", "-")+"(1)")
			}
		}
	}
	see = append(see, "git(1)", "gitattributes(5)")
	b.WriteString(roffEscape(strings.Join(see, ", ")) + "\n")
	return b.Bytes()
}

// roffText writes help text: blank lines separate paragraphs, which troff
// fills; runs of indented lines are kept as they are.
func roffText(b *bytes.Buffer, text string) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	b.WriteString(".PP\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.TrimSpace(l) == "":
			b.WriteString(".PP\n")
		case l[0] == ' ' || l[0] == '\t':
			j := i
			for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
				j++
			}
			b.WriteString(".nf\n")
			b.WriteString(roffLines(strings.Join(lines[i:j], "\n")))
			b.WriteString(".fi\n")
			i = j - 1
		default:
			b.WriteString(roffLine(l) + "\n")
		}
	}
}

// roffLines escapes each line of s and ends each with a newline.
func roffLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		b.WriteString(roffLine(l) + "\n")
	}
	return b.String()
}

// roffLine escapes one input line: a line that starts with a control
// character (. or ') would be a request.
func roffLine(l string) string {
	l = roffEscape(l)
	if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
		l = `\&` + l
	}
	return l
}

// roffEscape escapes troff's escape character and makes hyphens the
// minus signs that survive copying and pasting.
func roffEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\e`), "-", `\-`)
}

// roffQuote quotes a macro argument.
func roffQuote(s string) string {
	return `"` + strings.ReplaceAll(roffEscape(s), `"`, `""`) + `"`
}
