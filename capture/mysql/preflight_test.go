package mysql

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckVariables(t *testing.T) {
	t.Parallel()
	good := map[string]string{"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr string // substring; "" means no error
		warn    string
	}{
		{"all good", good, "", ""},
		{"log_bin 1", with("log_bin", "1"), "", ""},
		{"no binlog", with("log_bin", "OFF"), "log_bin=OFF", ""},
		{"statement", with("binlog_format", "STATEMENT"), "MariaDB at db:3306 has binlog_format=STATEMENT; set binlog_format=ROW (e.g. in my.cnf [mysqld]) — Tributary reads row events", ""},
		{"mixed", with("binlog_format", "mixed"), "binlog_format=MIXED", ""},
		{"metadata minimal", with("binlog_row_metadata", "MINIMAL"), "binlog_row_metadata=MINIMAL", ""},
		{"metadata unknown", with("binlog_row_metadata", ""), "binlog_row_metadata=<unset>", ""},
		{"partial json", with("binlog_row_value_options", "PARTIAL_JSON"), "binlog_row_value_options=PARTIAL_JSON; set it to ''", ""},
		{"no row value options (MariaDB)", with("binlog_row_value_options", ""), "", ""},
		{"row image minimal warns", with("binlog_row_image", "MINIMAL"), "", "binlog_row_image=MINIMAL"},
		{"row image noblob warns", with("binlog_row_image", "NOBLOB"), "", "binlog_row_image=NOBLOB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			warns, err := checkVariables("MariaDB", "db:3306", tt.vars)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrPreflight)) {
				t.Fatalf("error %v, want ErrPreflight containing %q", err, tt.wantErr)
			}
			if tt.warn == "" && len(warns) > 0 || tt.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tt.warn)) {
				t.Errorf("warnings %q, want %q", warns, tt.warn)
			}
		})
	}
}

func TestCheckGrants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		grants  []string
		missing string
	}{
		{[]string{"GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `tributary`@`%` IDENTIFIED BY PASSWORD '*X'"}, ""},
		{[]string{"GRANT ALL PRIVILEGES ON *.* TO `admin`@`%`"}, ""},
		{[]string{"GRANT SELECT, REPLICATION CLIENT ON *.* TO `u`@`%`"}, "REPLICATION SLAVE"},
		{[]string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`", "GRANT SELECT ON `shop`.* TO `u`@`%`"}, "SELECT"},
		{[]string{"GRANT USAGE ON *.* TO `u`@`%`"}, "REPLICATION SLAVE, REPLICATION CLIENT"},
	}
	for _, tt := range tests {
		err := checkGrants("MariaDB", "db:3306", "u", tt.grants)
		if tt.missing == "" && err != nil || tt.missing != "" && (err == nil || !strings.Contains(err.Error(), "lacks "+tt.missing)) {
			t.Errorf("checkGrants(%q) = %v, want missing %q", tt.grants, err, tt.missing)
		}
	}
}
