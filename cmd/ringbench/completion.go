package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// bashCompletion and zshCompletion are urfave/cli's autocomplete scripts for ringbench: they ask the
// binary itself (--generate-bash-completion) for the commands and flags that fit.
const bashCompletion = `# bash completion for ringbench: source it, or put it in /etc/bash_completion.d/ringbench
_ringbench_complete() {
  local cur words cword opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _ringbench_complete ringbench
`

const zshCompletion = `#compdef ringbench
# zsh completion for ringbench: put it on $fpath as _ringbench, or source it after compinit
_ringbench() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _ringbench ringbench
`

func init() {
	commands = append(commands, &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Prints the completion script for the shell, to be sourced or installed:\n\n" +
			"  source <(ringbench completion bash)         # or: > /etc/bash_completion.d/ringbench\n" +
			"  ringbench completion zsh > \"${fpath[1]}/_ringbench\"\n" +
			"  ringbench completion fish > ~/.config/fish/completions/ringbench.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("completion wants one shell: bash, zsh or fish")
			}
			var script string
			switch sh := c.Args().First(); sh {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return exitError(exitFailure, fmt.Errorf("fish completion: %w", err))
				}
				script = s
			default:
				return usageError("completion %q: want bash, zsh or fish", sh)
			}
			if _, err := fmt.Fprint(c.App.Writer, script); err != nil {
				return exitError(exitFailure, fmt.Errorf("writing the script: %w", err))
			}
			return nil
		},
	})
	commands = append(commands, &cli.Command{
		Name:        "man",
		Usage:       "print the manual page (roff), e.g. ringbench man > /usr/local/share/man/man1/ringbench.1",
		Description: "Prints ringbench(1) in roff, generated from the same text as --help. Read it with: ringbench man | man -l -",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "markdown", Usage: "print Markdown instead of roff"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("man takes no arguments, got %q", c.Args().First())
			}
			var page string
			var err error
			if c.Bool("markdown") {
				page, err = c.App.ToMarkdown()
			} else {
				page, err = c.App.ToManWithSection(1)
			}
			if err != nil {
				return exitError(exitFailure, fmt.Errorf("generating the manual page: %w", err))
			}
			if _, err := fmt.Fprint(c.App.Writer, strings.TrimLeft(page, "\n")); err != nil {
				return exitError(exitFailure, fmt.Errorf("writing the manual page: %w", err))
			}
			return nil
		},
	})
}
