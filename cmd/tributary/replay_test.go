package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeReplayConfig writes a config with a MariaDB source (server_id 5) and
// a PostgreSQL one; nothing in it is contacted by the checks tested here.
func writeReplayConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tributary.yaml")
	cfg := fmt.Sprintf(`checkpoints: {dir: %s}
kafka: {brokers: ["127.0.0.1:1"]}
topics: {prefix: cdc}
sources:
  - {name: crm, addr: "127.0.0.1:1", user: u, password: p, server_id: 5}
  - {name: orders, kind: postgres, addr: "127.0.0.1:1", user: u, database: o}
`, t.TempDir())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayCommandRefuses(t *testing.T) {
	t.Parallel()
	cfg := writeReplayConfig(t)
	ok := []string{"-c", cfg, "--source", "crm", "--from", "bin.000001:4", "--to", "bin.000002:4", "--topic", "repair"}
	with := func(extra ...string) []string { return append(append([]string(nil), ok...), extra...) }
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"-c", cfg, "--source", "crm"}, true, "needs --source, --from, --to and --topic"},
		{with("--server-id", "x"), true, "server-id"},
		{with("--server-id", "99999999999"), true, "32 bits"},
		{with("--server-id", "5"), false, "sources[crm].server_id"},
		{with("--source", "orders", "--from", "0/1", "--to", "0/2"), false, "PostgreSQL keeps no WAL behind its slot's confirmed_flush_lsn"},
		{with("--source", "nope"), false, `source "nope" is not in the config`},
		{with("--topic", "cdc.crm.db.table"), false, "live topics"},
		{with("--to", "bin.000001:4"), false, "is not before"},
	}
	for _, tc := range tests {
		err := cmdReplay(tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage) != tc.usage {
			t.Errorf("replay %v: err = %v, want %q (usage error: %v)", tc.args[2:], err, tc.want, tc.usage)
		}
	}
}

func TestReplayUsageNamesEveryFlag(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"--source", "--from", "--to", "--topic", "--server-id", "transaction boundary"} {
		if !strings.Contains(replayUsage, f) {
			t.Errorf("replay usage lacks %q", f)
		}
	}
}
