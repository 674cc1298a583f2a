// Command tributary streams row changes from MySQL/MariaDB binlogs into
// Kafka as canonical events, checkpointing source positions only after
// Kafka acknowledged them.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
)

const usage = `usage: tributary <command> [flags]

commands:
  run -c config.yaml [--progress auto|always|never]
                                     stream every configured source into Kafka;
                                     a progress bar per snapshot table on stderr
                                     (auto: when stderr is a terminal)
  validate -c config.yaml            check the configuration and exit
  status -c config.yaml [--addr host:port]
                                     state, lag and checkpoint of every source
                                     of the running daemon (its admin.addr; the
                                     config's admin.auth token and admin.tls)
  checkpoints list -c config.yaml    committed position of every source
  checkpoints show -c config.yaml --source S
                                     a source's checkpoint history
  checkpoints rewind -c config.yaml --source S --to <position|RFC 3339 time>
                                     move a source's checkpoint back; the next
                                     run re-emits everything after it
  verify -c config.yaml --source S [--table db.table] [--chunk-size N] [--rechecks N] [--recheck-wait D] [--quiet]
                                     compare the latest state per key in the
                                     topics with the source tables; exit 1 when
                                     rows are missing, extra or differ
  tail -c config.yaml [--source S] [--from-beginning] [--max N] [--timeout D]
                                     print the sources' Kafka messages, one line
                                     each; fails if --timeout ends before --max
` + snapshotUsage + replayUsage + clusterUsage

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage makes main print the usage text and exit 2.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stderr)
	case "status":
		err = cmdStatus(args[1:], stdout)
	case "replay":
		err = cmdReplay(args[1:], stdout, stderr)
	case "verify":
		err = cmdVerify(args[1:], stdout)
	case "validate":
		err = cmdValidate(args[1:], stdout)
	case "checkpoints":
		err = cmdCheckpoints(args[1:], stdout)
	case "snapshot":
		err = cmdSnapshot(args[1:], stdout)
	case "tail":
		err = cmdTail(args[1:], stdout, stderr)
	case "cluster":
		err = cmdCluster(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "tributary: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "tributary: %v\n", err)
		return 1
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := fs.String("c", "configs/tributary.yaml", "config file")
	return fs, cfg
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
