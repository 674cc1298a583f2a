package capture

import "testing"

func TestTableFilter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		f         TableFilter
		ns, table string
		want      bool
	}{
		{TableFilter{}, "crm", "customers", true},
		{TableFilter{Include: []string{"crm.*"}}, "crm", "customers", true},
		{TableFilter{Include: []string{"crm.*"}}, "shop", "orders", false},
		{TableFilter{Include: []string{"crm.*"}, Exclude: []string{"crm.audit_*"}}, "crm", "audit_log", false},
		{TableFilter{Exclude: []string{"*.tmp"}}, "shop", "tmp", false},
		{TableFilter{Include: []string{"crm.cust?mers"}}, "crm", "customers", true},
	}
	for _, tc := range cases {
		if got := tc.f.Match(tc.ns, tc.table); got != tc.want {
			t.Errorf("%+v.Match(%s, %s) = %v, want %v", tc.f, tc.ns, tc.table, got, tc.want)
		}
	}
}

func TestCheckPattern(t *testing.T) {
	t.Parallel()
	for p, ok := range map[string]bool{"crm.*": true, "*.*": true, "crm": false, ".t": false, "crm.[": false} {
		if err := CheckPattern(p, "db", "shop.*"); (err == nil) != ok {
			t.Errorf("CheckPattern(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}
