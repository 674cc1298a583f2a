package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"

	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/internal/verify"
)

func TestVerifyOutcome(t *testing.T) {
	t.Parallel()
	table := func(missing, extra, differing int64) verify.TableReport {
		return verify.TableReport{Missing: verify.Diff{Count: missing}, Extra: verify.Diff{Count: extra}, Differing: verify.Diff{Count: differing}}
	}
	tests := []struct {
		rep  verify.Report
		want string
	}{
		{verify.Report{Tables: []verify.TableReport{table(0, 0, 0), table(0, 0, 0)}}, ""},
		{verify.Report{Tables: []verify.TableReport{table(1, 0, 0), table(0, 0, 0), table(0, 0, 1)}}, "verify: 3 tables checked, 2 rows differ"},
		{verify.Report{Tables: []verify.TableReport{table(0, 1, 0)}}, "verify: 1 table checked, 1 row differs"},
	}
	for _, tc := range tests {
		err := verifyOutcome(tc.rep)
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("verifyOutcome = %v, want %q", err, tc.want)
		}
	}
}

// writeVerifyConfig writes a config for one MariaDB source capturing db.
func writeVerifyConfig(t *testing.T, db, prefix string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tributary.yaml")
	cfg := fmt.Sprintf(`checkpoints:
  dir: %s
kafka:
  brokers: [%q]
topics:
  prefix: %s
sources:
  - name: vsrc
    addr: %s
    user: %s
    password: %s
    server_id: %d
    include: ["%s.*"]
  - name: pg
    kind: postgres
    addr: 127.0.0.1:1
    user: x
    database: x
`, t.TempDir(), testenv.KafkaAddr(), prefix, testenv.MySQLAddr(), testenv.MySQLCDCUser, testenv.MySQLCDCPassword, testenv.ServerID(), db)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	testenv.RequireTCP(t, "MariaDB", testenv.MySQLAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	name := testenv.UniqueName(t, "cmdv")
	admin, err := sql.Open("mysql", testenv.MySQLDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	testenv.Exec(t, admin, "CREATE DATABASE `"+name+"`",
		"CREATE TABLE `"+name+"`.empty (id INT PRIMARY KEY)",
		"CREATE TABLE `"+name+"`.full (id INT PRIMARY KEY, v TEXT)",
		"INSERT INTO `"+name+"`.full VALUES (1, 'a'), (2, 'b')")
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	cfg := writeVerifyConfig(t, name, testenv.UniqueName(t, "cmdp"))

	// No events were ever produced: the empty table agrees, the other one
	// misses both rows in Kafka.
	var out bytes.Buffer
	err = cmdVerify([]string{"-c", cfg, "--source", "vsrc", "--rechecks", "0", "--table", name + ".empty"}, &out)
	if err != nil || !strings.Contains(out.String(), "verify: 1 table checked, no differences") {
		t.Errorf("empty table: err %v, output:\n%s", err, out.String())
	}
	out.Reset()
	err = cmdVerify([]string{"-c", cfg, "--source", "vsrc", "--rechecks", "0"}, &out)
	if want := "verify: 2 tables checked, 2 rows differ"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	for _, want := range []string{name + ".full (topic ", `{"id":1}`, `{"id":2}`, "rows compared"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", cfg}, "--source is required"},
		{[]string{"-c", cfg, "--source", "nope"}, `source "nope" is not in the config`},
		{[]string{"-c", cfg, "--source", "pg"}, "127.0.0.1:1"}, // postgres is read; nothing listens there
		{[]string{"-c", cfg, "--source", "vsrc", "--table", "nodot"}, "want db.table"},
		{[]string{"-c", cfg, "--source", "vsrc", "--table", "other.t"}, "not captured"},
	} {
		err := cmdVerify(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("verify %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	if err := cmdVerify([]string{"--source"}, &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Errorf("bad flags: err = %v, want a usage error", err)
	}
}
