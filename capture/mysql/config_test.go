package mysql

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{Addr: "db:3306", User: "u", ServerID: 7}
	ok.Defaults()
	if err := ok.Validate("sources[crm]"); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	withReplica := ok
	withReplica.FailoverAddrs = []string{"replica:3306"}
	if err := withReplica.Validate("sources[crm]"); err != nil {
		t.Errorf("failover_addrs: %v", err)
	}
	if ok.Flavor != FlavorMariaDB || ok.Heartbeat != 5*time.Second || ok.ReadTimeout != 30*time.Second {
		t.Errorf("defaults: %+v", ok)
	}
	tests := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.ServerID = 0 }, "sources[crm].server_id is required"},
		{func(c *Config) { c.Addr = "" }, "sources[crm].addr is required"},
		{func(c *Config) { c.Addr = "nohost" }, "sources[crm].addr"},
		{func(c *Config) { c.User = "" }, "sources[crm].user is required"},
		{func(c *Config) { c.Flavor = "postgres" }, "sources[crm].flavor"},
		{func(c *Config) { c.Include = []string{"nodot"} }, "sources[crm].include[0]"},
		{func(c *Config) { c.Exclude = []string{"a.[b"} }, "sources[crm].exclude[0]"},
		{func(c *Config) { c.KeyColumns = map[string][]string{"a.b": nil} }, "sources[crm].key_columns[a.b]"},
		{func(c *Config) { c.ReadTimeout = time.Second }, "sources[crm].read_timeout"},
		{func(c *Config) { c.FailoverAddrs = []string{"replica"} }, "sources[crm].failover_addrs[0] \"replica\": want host:port"},
		{func(c *Config) { c.FailoverAddrs = []string{"r:3306", "db:3306"} }, "sources[crm].failover_addrs[1] \"db:3306\": listed twice"},
	}
	for _, tt := range tests {
		c := ok
		tt.mod(&c)
		if err := c.Validate("sources[crm]"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate = %v, want %q", err, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	f := filter{include: []string{"shop.*", "crm.users"}, exclude: []string{"shop.tmp_*"}}
	for name, want := range map[string]bool{"shop.orders": true, "shop.tmp_x": false, "crm.users": true, "crm.other": false, "x.y": false} {
		db, tbl, _ := strings.Cut(name, ".")
		if got := f.match(db, tbl); got != want {
			t.Errorf("match(%s) = %v", name, got)
		}
	}
	if !f.matchDatabase("shop") || f.matchDatabase("x") || (filter{exclude: []string{"x.*"}}).matchDatabase("x") {
		t.Error("matchDatabase")
	}
}
