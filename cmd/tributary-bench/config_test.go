package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	pgsource "github.com/tributary-cdc/tributary/capture/postgres"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/config"
)

// The bench writes the daemon's config as YAML by hand, with only the keys
// it must set, so that another tributary build (-tributary) still accepts
// it. This test parses every config it writes with internal/config, which
// refuses unknown keys, so a renamed or removed key fails here rather than
// in a bench run, and checks that each key means what the bench intends.
func TestTributaryConfigsParse(t *testing.T) {
	t.Setenv("TRIBUTARY_BENCH_PASSWORD", "tributary")
	my := &mariadbSource{addr: "127.0.0.1:13306", database: "tb_run", serverIDBase: 4000}
	pg := &postgresSource{addr: "127.0.0.1:15432", database: "tb_run"}
	for _, tc := range []struct {
		name, source      string
		kind, addr        string
		include           string
		snapshotTable     string // "": no snapshot key
		serverID          uint32
		slot, publication string
	}{
		{name: "mariadb", source: my.TributarySource("bench"), kind: "mysql", addr: my.addr, include: "tb_run.*", serverID: 4001},
		{name: "mariadb snapshot", source: my.TributarySnapshotSource("bench", "snap", 5000), kind: "mysql", addr: my.addr,
			include: "tb_run.snap", snapshotTable: "tb_run.snap", serverID: 4004},
		{name: "postgres", source: pg.TributarySource("bench"), kind: "postgres", addr: pg.addr, include: "public.*",
			slot: pg.slot("trib"), publication: pg.publication()},
		{name: "postgres snapshot", source: pg.TributarySnapshotSource("bench", "snap", 5000), kind: "postgres", addr: pg.addr,
			include: "public.snap", snapshotTable: "public.snap", slot: pg.slot("tsnap"), publication: pg.snapshotPublication()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "tributary.yaml")
			if err := os.WriteFile(path, []byte(tributaryConfig(dir, "127.0.0.1:19092", "tb", tc.source)), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatalf("the bench's config does not load: %v\n%s", err, tributaryConfig(dir, "127.0.0.1:19092", "tb", tc.source))
			}
			if cfg.Checkpoints.Dir != filepath.Join(dir, "checkpoints") || !slices.Equal(cfg.Kafka.Brokers, []string{"127.0.0.1:19092"}) ||
				cfg.Topics.Prefix != "tb" || cfg.Admin.Addr != "127.0.0.1:0" || cfg.Log.Level != "info" {
				t.Errorf("daemon settings: checkpoints %q, brokers %v, prefix %q, admin %q, log %q",
					cfg.Checkpoints.Dir, cfg.Kafka.Brokers, cfg.Topics.Prefix, cfg.Admin.Addr, cfg.Log.Level)
			}
			if len(cfg.Sources) != 1 {
				t.Fatalf("%d sources, want 1", len(cfg.Sources))
			}
			s := cfg.Sources[0]
			if s.Name != "bench" || string(s.Kind) != tc.kind || s.PasswordEnv != "TRIBUTARY_BENCH_PASSWORD" {
				t.Errorf("source: name %q kind %q password_env %q", s.Name, s.Kind, s.PasswordEnv)
			}
			var (
				addr, slot, publication string
				include                 []string
				serverID                uint32
				snap                    snapshot.Config
			)
			switch c := s.Settings.(type) {
			case *mysqlsource.Config:
				addr, include, serverID, snap = c.Addr, c.Include, c.ServerID, c.Snapshot
			case *pgsource.Config:
				addr, include, slot, publication, snap = c.Addr, c.Include, c.Slot, c.Publication, c.Snapshot
			default:
				t.Fatalf("settings of type %T", s.Settings)
			}
			if addr != tc.addr || !slices.Equal(include, []string{tc.include}) {
				t.Errorf("source: addr %q include %v, want %q [%s]", addr, include, tc.addr, tc.include)
			}
			if serverID != tc.serverID || slot != tc.slot || publication != tc.publication {
				t.Errorf("source: server_id %d slot %q publication %q, want %d %q %q", serverID, slot, publication, tc.serverID, tc.slot, tc.publication)
			}
			if tc.snapshotTable == "" {
				return
			}
			if snap.Mode != snapshot.Initial || snap.ChunkSize != 5000 || snap.RowsPerSecond != 0 ||
				snap.Parallel != 1 || !slices.Equal(snap.Tables, []string{tc.snapshotTable}) {
				t.Errorf("snapshot: %+v, want initial of %s in chunks of 5000, unthrottled, one table at a time", snap, tc.snapshotTable)
			}
		})
	}
}
