package capture

import (
	"errors"
	"strings"
	"testing"
)

func TestSettingsKey(t *testing.T) {
	t.Parallel()
	if got := SettingsKey("sources[crm]")("addr"); got != "sources[crm].addr" {
		t.Errorf("prefixed key %q", got)
	}
	if got := SettingsKey("")("addr"); got != "addr" {
		t.Errorf("bare key %q", got)
	}
}

func TestValidateCommonSettings(t *testing.T) {
	t.Parallel()
	key := SettingsKey("sources[crm]")
	naming := TableNaming{Namespace: "db", Example: "shop.*"}
	tests := []struct {
		name       string
		addr, user string
		include    []string
		exclude    []string
		keyColumns map[string][]string
		want       []string // one entry per expected error, in order
	}{
		{"valid", "db:3306", "u", []string{"shop.*"}, []string{"shop.tmp_*"}, map[string][]string{"shop.log": {"id"}}, nil},
		{"no addr", "", "u", nil, nil, nil, []string{"sources[crm].addr is required (host:port)"}},
		{"addr without port", "db", "u", nil, nil, nil, []string{`sources[crm].addr "db": want host:port`}},
		{"no user", "db:3306", "", nil, nil, nil, []string{"sources[crm].user is required"}},
		{"bad include", "db:3306", "u", []string{"shop.*", "nodot"}, nil, nil, []string{`sources[crm].include[1]: pattern "nodot": want db.table (globs allowed, e.g. shop.*)`}},
		{"bad exclude", "db:3306", "u", nil, []string{"a.[b"}, nil, []string{`sources[crm].exclude[0]: pattern "a.[b"`}},
		{"key columns of no table", "db:3306", "u", nil, nil, map[string][]string{"ab": {"x"}}, []string{`sources[crm].key_columns: "ab" is not db.table`}},
		{"key columns without columns", "db:3306", "u", nil, nil, map[string][]string{"a.b": nil}, []string{"sources[crm].key_columns[a.b]: list at least one column"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := append(ValidateServer(key, tc.addr, tc.user),
				ValidateTables(key, naming, tc.include, tc.exclude, tc.keyColumns)...)
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %d", errors.Join(errs...), len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %v, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}
