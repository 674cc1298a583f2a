package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/checkpoints"
	badgerstore "github.com/tributary-cdc/tributary/checkpoints/badger"
	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/pipeline"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// writeSnapshotConfig writes a config whose MariaDB source (crm) and admin
// address are unreachable, with its checkpoint store in dir.
func writeSnapshotConfig(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tributary.yaml")
	cfg := fmt.Sprintf(`checkpoints: {dir: %s}
kafka: {brokers: ["127.0.0.1:1"]}
topics: {prefix: cdc}
admin: {addr: "127.0.0.1:1"}
sources:
  - {name: crm, addr: "127.0.0.1:1", user: u, password: p, server_id: 5, include: ["shop.*"]}
  - {name: orders, kind: postgres, addr: "127.0.0.1:1", user: u, database: o}
`, dir)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSnapshotCommandRefuses(t *testing.T) {
	t.Parallel()
	cfg := writeSnapshotConfig(t, t.TempDir())
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"-c", cfg, "--source", "crm"}, true, "needs --table"},
		{[]string{"-c", cfg, "--source", "crm", "--table", "nodot"}, true, "want db.table"},
		{[]string{"-c", cfg, "--table", "shop.a"}, true, "needs --source"},
		{[]string{"-c", cfg, "--source", "nope", "--table", "shop.a"}, false, `source "nope" is not in the config`},
		{[]string{"-c", cfg, "--source", "crm", "--table", "shop.a"}, false, "has no checkpoint yet"},
	}
	for _, tc := range tests {
		err := cmdSnapshot(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage) != tc.usage {
			t.Errorf("snapshot %v: err = %v, want %q (usage error: %v)", tc.args[2:], err, tc.want, tc.usage)
		}
	}
}

// Without a daemon, the tables go into the checkpoint's snapshot part,
// recorded as a rewind; a second request appends, a repeated one is a no-op.
func TestSnapshotOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeSnapshotConfig(t, dir)
	ctx := context.Background()
	store, err := badgerstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const start = "mariadb-bin.000002:4711@0-1-9"
	if err := store.Commit(ctx, "crm", checkpoints.Checkpoint{Position: start, SavedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	var out bytes.Buffer
	if err := cmdSnapshot([]string{"-c", cfg, "--source", "crm", "--table", "shop.a,shop.b"}, &out); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out.String())
	}
	for _, want := range []string{"no daemon answering at 127.0.0.1:1", "snapshot of shop.a, shop.b queued in its checkpoint", "tributary status"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := cmdSnapshot([]string{"-c", cfg, "--source", "crm", "--table", "shop.b", "--table", "shop.c"}, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := cmdSnapshot([]string{"-c", cfg, "--source", "crm", "--table", "shop.a"}, &out); err != nil || !strings.Contains(out.String(), "already queued") {
		t.Errorf("repeat: %v\n%s", err, out.String())
	}

	store, err = badgerstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	entries, err := store.Entries(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d history entries, want the commit and two rewinds", len(entries))
	}
	cp, err := store.Load(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	p, err := mysqlsource.ParseResume(capture.Resume{Position: cp.Position, Snapshot: cp.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if p.File != "mariadb-bin.000002" || p.Pos != 4711 || p.GTIDSet != "0-1-9" || p.Snapshot == nil || strings.Contains(cp.Position, "|") {
		t.Fatalf("checkpoint %+v (position %q)", p, cp.Position)
	}
	s := p.Snapshot
	if len(s.Active) != 0 || strings.Join(s.Pending, " ") != "shop.a shop.b shop.c" || !strings.HasPrefix(s.ID, start+"~") {
		t.Errorf("snapshot state %+v", s)
	}
}

func TestAddSnapshotTablesKeepsRunningSnapshot(t *testing.T) {
	t.Parallel()
	running := &snapshot.State{ID: "b.000001:4", Active: []snapshot.Cursor{{Table: "shop.a", After: []any{int64(42)}}}, Pending: []string{"shop.b"}}
	cp := checkpoints.Checkpoint{Position: "b.000001:4", Snapshot: running.Encode()}
	got, added, err := addSnapshotTables("mysql", cp, []string{"shop.a", "shop.c"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.Cursor("shop.a"); strings.Join(added, " ") != "shop.c" || s.ID != "b.000001:4" || len(s.Active) != 1 || cur.After[0] != int64(42) || strings.Join(s.Pending, " ") != "shop.b shop.c" {
		t.Errorf("added %v, state %+v", added, s)
	}
	if _, _, err := addSnapshotTables("mysql", checkpoints.Checkpoint{Position: "0/16B3748"}, []string{"shop.a"}, time.Now()); err == nil {
		t.Error("a PostgreSQL LSN was accepted")
	}
	pg, added, err := addSnapshotTables("postgres", checkpoints.Checkpoint{Position: "0/16B3748"}, []string{"public.a", "public.b"}, time.Now())
	if err != nil || strings.Join(added, " ") != "public.a public.b" {
		t.Fatalf("postgres: %q, %v, %v", pg, added, err)
	}
	if s, err := snapshot.Decode(pg); err != nil || !strings.HasPrefix(s.ID, "0/16B3748~") {
		t.Errorf("postgres snapshot work %+v, %v: want a new snapshot named after the LSN", s, err)
	}
}

// A running daemon takes the request over its admin address.
func TestSnapshotAsksTheDaemon(t *testing.T) {
	t.Parallel()
	cfg := writeSnapshotConfig(t, t.TempDir())
	srv := admin.New("127.0.0.1:0", nil, nil)
	var got []string
	srv.OnSnapshot(func(source string, tables []string) error {
		if source != "crm" {
			return admin.ErrUnknownSource
		}
		if tables[0] == "shop.nokey" {
			return tagged{admin.ErrInvalid, errors.New("shop.nokey has no primary key")}
		}
		got = tables
		return nil
	})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	var out bytes.Buffer
	if err := cmdSnapshot([]string{"-c", cfg, "--addr", addr, "--source", "crm", "--table", "shop.a", "--table", "shop.b"}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "shop.a shop.b" || !strings.Contains(out.String(), "queued on source crm by the daemon") || !strings.Contains(out.String(), "tributary status") {
		t.Errorf("daemon got %v; output:\n%s", got, out.String())
	}
	err := cmdSnapshot([]string{"-c", cfg, "--addr", addr, "--source", "crm", "--table", "shop.nokey"}, &out)
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "has no primary key") {
		t.Errorf("refused request: %v", err)
	}

	// Something else at the address is not taken for "no daemon".
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	err = cmdSnapshot([]string{"-c", cfg, "--addr", strings.TrimPrefix(other.URL, "http://"), "--source", "crm", "--table", "shop.a"}, &out)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("non-tributary address: %v", err)
	}
}

func TestSnapshotRequestsMapsErrors(t *testing.T) {
	t.Parallel()
	f := snapshotRequests([]string{"crm"}, []*pipeline.Pipeline{nil})
	if err := f("nope", []string{"a.b"}); !errors.Is(err, admin.ErrUnknownSource) {
		t.Errorf("unknown source: %v", err)
	}
	e := tagged{admin.ErrInvalid, mysqlsource.ErrSnapshotRequest}
	if !errors.Is(e, admin.ErrInvalid) || !errors.Is(e, mysqlsource.ErrSnapshotRequest) || e.Error() != mysqlsource.ErrSnapshotRequest.Error() {
		t.Errorf("tagged: %v", e)
	}
}

// `tributary snapshot` sends the config's token over the config's TLS; a
// daemon that refuses the token is not taken for "no daemon".
func TestSnapshotSendsTheToken(t *testing.T) {
	t.Parallel()
	certs := testenv.WriteCerts(t)
	right, wrong := writeToken(t, "right-token"), writeToken(t, "wrong-token")
	var mu sync.Mutex
	var got []string
	addr := runAdmin(t, config.Admin{Auth: config.AdminAuth{BearerTokenFile: right},
		TLS: config.AdminTLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}, nil,
		func(_ string, tables []string) error {
			mu.Lock()
			got = tables
			mu.Unlock()
			return nil
		})
	tlsBlock := fmt.Sprintf("{cert_file: %s, key_file: %s, ca_file: %s}", certs.ServerCert, certs.ServerKey, certs.CA)
	args := func(adminYAML string) []string {
		return []string{"-c", writeAdminConfig(t, adminYAML), "--source", "crm", "--table", "shop.a"}
	}

	var out bytes.Buffer
	if err := cmdSnapshot(args(fmt.Sprintf("{addr: %q, auth: {bearer_token_file: %s}, tls: %s}", addr, right, tlsBlock)), &out); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if strings.Join(got, " ") != "shop.a" || !strings.Contains(out.String(), "queued on source crm by the daemon") || !strings.Contains(out.String(), "https://"+addr+"/status") {
		t.Errorf("daemon got %v; output:\n%s", got, out.String())
	}
	mu.Unlock()

	for _, tc := range []struct{ name, admin, want string }{
		{"wrong token", fmt.Sprintf("{addr: %q, auth: {bearer_token_file: %s}, tls: %s}", addr, wrong, tlsBlock),
			"did not accept the token of admin.auth.bearer_token_file (401 Unauthorized)"},
		{"no token", fmt.Sprintf("{addr: %q, tls: %s}", addr, tlsBlock), "requires a bearer token (401 Unauthorized)"},
	} {
		out.Reset()
		err := cmdSnapshot(args(tc.admin), &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if strings.Contains(out.String(), "checkpoint store instead") {
			t.Errorf("%s: fell back to the checkpoint store:\n%s", tc.name, out.String())
		}
	}
}
