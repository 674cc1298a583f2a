package postgres

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{Addr: "db:5432", User: "u", Database: "shop"}
	ok.Defaults("Orders-EU")
	if err := ok.Validate("sources[orders]"); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if ok.Slot != "tributary_orders_eu" || ok.Publication != "tributary_orders_eu" || !*ok.CreateSlot || !*ok.CreatePublication ||
		ok.StatusInterval != 10*time.Second || ok.Heartbeat != 30*time.Second || ok.sslMode() != "prefer" {
		t.Errorf("defaults: %+v", ok)
	}
	tests := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Addr = "" }, "sources[orders].addr is required"},
		{func(c *Config) { c.Addr = "nohost" }, "sources[orders].addr"},
		{func(c *Config) { c.FailoverAddrs = []string{"standby"} }, "sources[orders].failover_addrs[0] \"standby\": want host:port"},
		{func(c *Config) { c.FailoverAddrs = []string{"sb:5432"}; c.FailoverSlot = ptr(false) }, "sources[orders].failover_slot is false but sources[orders].failover_addrs are set"},
		{func(c *Config) { c.User = "" }, "sources[orders].user is required"},
		{func(c *Config) { c.Database = "" }, "sources[orders].database is required"},
		{func(c *Config) { c.Slot = "Bad-Slot" }, "sources[orders].slot"},
		{func(c *Config) { c.Publication = "a b" }, "sources[orders].publication"},
		{func(c *Config) { c.SSLMode = "maybe" }, "sources[orders].sslmode"},
		{func(c *Config) { c.Include = []string{"nodot"} }, "sources[orders].include[0]"},
		{func(c *Config) { c.Exclude = []string{"a.[b"} }, "sources[orders].exclude[0]"},
		{func(c *Config) { c.KeyColumns = map[string][]string{"a.b": nil} }, "sources[orders].key_columns[a.b]"},
		{func(c *Config) { c.KeyColumns = map[string][]string{"ab": {"x"}} }, "sources[orders].key_columns"},
		{func(c *Config) { c.StatusInterval = -time.Second }, "sources[orders].status_interval"},
		{func(c *Config) { c.StatusInterval = 2 * time.Minute }, "wal_sender_timeout"},
		{func(c *Config) { c.Heartbeat = -1 }, "sources[orders].heartbeat"},
	}
	for _, tt := range tests {
		c := ok
		tt.mod(&c)
		if err := c.Validate("sources[orders]"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate = %v, want %q", err, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	f := filter{include: []string{"public.*", "crm.users"}, exclude: []string{"public.tmp_*"}}
	for name, want := range map[string]bool{"public.orders": true, "public.tmp_x": false, "crm.users": true, "crm.other": false} {
		s, tbl, _ := strings.Cut(name, ".")
		if got := f.match(s, tbl); got != want {
			t.Errorf("match(%s) = %v", name, got)
		}
	}
}
