package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	pgsource "github.com/tributary-cdc/tributary/capture/postgres"
)

// Every example in configs/ must load: CI keeps the documentation honest.
func TestExampleConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		})
	}
}

const minimal = `
checkpoints: {dir: /tmp/x}
kafka: {brokers: ["127.0.0.1:19092"]}
sources:
  - {name: crm, addr: "127.0.0.1:13306", user: u, server_id: 7}
`

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Topics.Prefix != "tributary" || !*cfg.Topics.Tombstones || cfg.Pipeline.MaxInFlight != 50000 ||
		cfg.Pipeline.MaxInFlightBytes != 16<<20 {
		t.Fatalf("defaults not applied: %+v %+v", cfg.Topics, cfg.Pipeline)
	}
	if cfg.Kafka.RequiredAcks != "all" || cfg.Kafka.Partitions != 3 {
		t.Fatalf("kafka defaults not applied: %+v", cfg.Kafka)
	}
	if cfg.Sources[0].Kind != "mysql" || cfg.Sources[0].Settings.(*mysqlsource.Config).Heartbeat == 0 {
		t.Fatalf("source defaults not applied: %+v", cfg.Sources[0])
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", minimal + "\nbogus: 1\n", "bogus (line 7) is not a known key"},
		{"typo in source", strings.Replace(minimal, "server_id", "serverid", 1), "sources[crm].serverid (line 5) is not a known key; did you mean sources[crm].server_id?"},
		{"no checkpoint dir", strings.Replace(minimal, "dir: /tmp/x", "history: 3", 1), "checkpoints.dir is required"},
		{"no brokers", strings.Replace(minimal, `brokers: ["127.0.0.1:19092"]`, "brokers: []", 1), "kafka.brokers"},
		{"weak acks", strings.Replace(minimal, `kafka: {`, `kafka: {required_acks: one, `, 1), "kafka.required_acks"},
		{"missing server id", strings.Replace(minimal, ", server_id: 7", "", 1), "sources[crm].server_id is required"},
		{"bad name", strings.Replace(minimal, "name: crm", "name: CRM!", 1), "sources[CRM!].name"},
		{"bad kind", strings.Replace(minimal, "name: crm,", "name: crm, kind: oracle,", 1), "sources[crm].kind"},
		{"bad duration", minimal + "pipeline: {checkpoint_interval: soon}\n", "soon"},
		{"tiny byte budget", minimal + "pipeline: {max_in_flight_bytes: 1000}\n", "pipeline.max_in_flight_bytes must be at least 65536"},
		{"bad log level", minimal + "log: {level: loud}\n", "log.level"},
		{"duplicate", minimal + `  - {name: crm, addr: "127.0.0.1:13306", user: u, server_id: 8}` + "\n", "duplicate source name"},
		{"bad format", strings.Replace(minimal, "name: crm,", "name: crm, format: protobuf,", 1), "sources[crm].format \"protobuf\": want native, debezium or avro"},
		{"avro without a registry", strings.Replace(minimal, "name: crm,", "name: crm, format: avro,", 1), "schema_registry.url: required by the sources with format avro"},
		{"registry url", minimal + "schema_registry: {url: \"ftp://x\"}\n", "schema_registry.url \"ftp://x\": want an http:// or https:// URL"},
		{"registry url credentials", minimal + "schema_registry: {url: \"http://u:secret@x\"}\n", "schema_registry.url: credentials in the URL are not accepted; use schema_registry.basic_auth"},
		{"registry strategy", minimal + "schema_registry: {url: \"http://x\", subject_strategy: topicname}\n", "schema_registry.subject_strategy \"topicname\": want topic, record or topic_record"},
		{"registry compatibility", minimal + "schema_registry: {url: \"http://x\", compatibility: strict}\n", "schema_registry.compatibility \"STRICT\": want one of BACKWARD"},
		{"registry on_incompatible", minimal + "schema_registry: {url: \"http://x\", on_incompatible: skip}\n", "schema_registry.on_incompatible \"skip\": want halt or dead_letter"},
		{"registry dead letter topic", minimal + "schema_registry: {url: \"http://x\", on_incompatible: dead_letter}\n", "schema_registry.on_incompatible: dead_letter needs kafka.dead_letter_topic"},
		{"registry password without user", minimal + "schema_registry: {url: \"http://x\", basic_auth: {password_env: P}}\n", "schema_registry.basic_auth.username: required with a password"},
		{"registry user without password", minimal + "schema_registry: {url: \"http://x\", basic_auth: {username: u}}\n", "schema_registry.basic_auth: set password_env or password_file"},
		{"registry tls without https", minimal + "schema_registry: {url: \"http://x\", tls: {ca_file: /nonexistent}}\n", "schema_registry.tls: set, but schema_registry.url is not https"},
		{"avro envelope", strings.Replace(minimal, "name: crm,", "name: crm, format: avro, avro: {envelope: confluent},", 1) + "schema_registry: {url: \"http://x\"}\n", "sources[crm].avro.envelope \"confluent\": want native or debezium"},
		{"avro debezium envelope with a mapping", strings.Replace(minimal, "name: crm,", "name: crm, format: avro, avro: {envelope: debezium},", 1) + "schema_registry: {url: \"http://x\"}\nmappings:\n  - {table: \"a.b\", drop: [c]}\n", "mappings[0] applies to sources[crm], whose avro.envelope is debezium"},
		{"registry typo", minimal + "schema_registry: {url: \"http://x\", compatability: BACKWARD}\n", "schema_registry.compatability (line 6) is not a known key; did you mean schema_registry.compatibility?"},
		{"bad bigint mode", strings.Replace(minimal, "name: crm,", "name: crm, format: debezium, debezium: {bigint_unsigned: huge},", 1), "sources[crm].debezium.bigint_unsigned"},
		{"shared server id", minimal + `  - {name: crm2, addr: "127.0.0.1:13306", user: u, server_id: 7}` + "\n", "server_id 7 is also used"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPasswordSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRIB_TEST_PW", "from-env")
	cases := []struct {
		src  Source
		want string
		err  string
	}{
		{Source{Name: "a", PasswordEnv: "TRIB_TEST_PW"}, "from-env", ""},
		{Source{Name: "a", PasswordEnv: "TRIB_TEST_UNSET_PW"}, "", "sources[a].password_env: environment variable TRIB_TEST_UNSET_PW is not set"},
		{Source{Name: "a", PasswordFile: file}, "s3cret", ""},
		{Source{Name: "a", PasswordFile: filepath.Join(dir, "missing")}, "", "sources[a].password_file"},
	}
	for _, tc := range cases {
		got, err := tc.src.Password()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want %q", tc.src, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestPostgresSource(t *testing.T) {
	t.Parallel()
	pg := `
checkpoints: {dir: /tmp/x}
kafka: {brokers: ["127.0.0.1:19092"]}
sources:
  - {name: orders, kind: postgres, addr: "127.0.0.1:15432", user: u, database: orders}
`
	cfg, err := Parse([]byte(pg))
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Sources[0].Settings.(*pgsource.Config); c.Slot == "" || c.Publication == "" || c.Database != "orders" {
		t.Fatalf("postgres defaults not applied: %+v", c)
	}
	cases := []struct{ name, yaml, want string }{
		{"mysql key on postgres", strings.Replace(pg, "database: orders", "database: orders, server_id: 3", 1), "sources[orders].server_id does not apply to kind postgres"},
		{"postgres key on mysql", minimal + `  - {name: crm2, addr: "127.0.0.1:13306", user: u, server_id: 8, slot: s}` + "\n", "sources[crm2].slot does not apply to kind mysql"},
		{"no database", strings.Replace(pg, ", database: orders", "", 1), "sources[orders].database"},
	}
	for _, tc := range cases {
		if _, err := Parse([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// Unknown keys are named by their path in the file, with the key probably
// meant, never by a Go type.
func TestUnknownKeysNamedByPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"kafka", strings.Replace(minimal, `kafka: {`, `kafka: {batch_sise: 10, `, 1),
			"kafka.batch_sise (line 3) is not a known key; did you mean kafka.batch_size?"},
		{"top level", minimal + "topcis: {prefix: x}\n", "topcis (line 6) is not a known key; did you mean topics?"},
		{"source", strings.Replace(minimal, "user: u", "user: u, passwrod_env: PW", 1),
			"sources[crm].passwrod_env (line 5) is not a known key; did you mean sources[crm].password_env?"},
		{"snapshot", strings.Replace(minimal, "user: u", "user: u, snapshot: {mode: initial, chunk_szie: 5}", 1),
			"sources[crm].snapshot.chunk_szie (line 5) is not a known key; did you mean sources[crm].snapshot.chunk_size?"},
		{"mapping", minimal + "mappings:\n  - {source: crm, table: a.b, renme: {x: y}}\n",
			"mappings[0].renme (line 7) is not a known key; did you mean mappings[0].rename?"},
		{"nothing close", minimal + "pipeline: {zzzzzz: 1}\n", "pipeline.zzzzzz (line 6) is not a known key"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "not found in type") {
			t.Errorf("%s: error names a Go type: %v", tt.name, err)
		}
	}
}

// A source's keys are its kind's: a typo is named with the kind's key
// meant, another kind's key does not apply, an unknown kind knows them all.
func TestSourceKeysByKind(t *testing.T) {
	t.Parallel()
	entry := minimal + `  - {name: orders, addr: "127.0.0.1:15432", user: u, database: orders, %s}` + "\n"
	tests := []struct {
		name, extra string
		want        []string
		notWant     string
	}{
		{"typo", "kind: postgres, slott: s", []string{"sources[orders].slott (line 6) is not a known key; did you mean sources[orders].slot?"}, ""},
		{"nested typo", "kind: postgres, snapshot: {modee: initial}", []string{"sources[orders].snapshot.modee (line 6) is not a known key; did you mean sources[orders].snapshot.mode?"}, ""},
		{"bad value", "kind: postgres, heartbeat: soon", []string{"line 6", "soon"}, ""},
		{"other kind's keys among other problems", "kind: postgres, server_id: 3, flavor: mysql, heartbeat: -1s",
			[]string{"sources[orders].server_id does not apply to kind postgres", "sources[orders].flavor does not apply to kind postgres", "sources[orders].heartbeat must be positive"}, ""},
		{"unknown kind", "kind: oracle, server_id: 3", []string{`sources[orders].kind "oracle": want mysql or postgres`}, "not a known key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(strings.Replace(entry, "%s", tc.extra, 1)))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to contain %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("error %v contains %q", err, tc.notWant)
			}
		})
	}
}

// Mappings apply to Avro sources in the native envelope: the schemas
// follow the mapping's output.
func TestAvroSourceWithMapping(t *testing.T) {
	t.Parallel()
	y := strings.Replace(minimal, "name: crm,", "name: crm, format: avro,", 1) +
		"schema_registry: {url: \"http://x\"}\nmappings:\n  - {table: \"a.b\", entity: c, drop: [c], mask: {d: redact}, cast: {e: bool}, add: {f: 1}}\n"
	if _, err := Parse([]byte(y)); err != nil {
		t.Fatalf("an Avro source with a mapping: %v", err)
	}
}
