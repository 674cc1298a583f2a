package config

import (
	"fmt"
	"net"
)

// Admin is the HTTP endpoint for /metrics, /healthz, /readyz and /status.
type Admin struct {
	// Addr is host:port; loopback by default because /status shows error
	// texts and has no authentication.
	Addr string `yaml:"addr"`
}

func (a *Admin) defaults() {
	if a.Addr == "" {
		a.Addr = "127.0.0.1:9464"
	}
}

// Validate checks the admin section's keys.
func (a Admin) Validate() error {
	if _, _, err := net.SplitHostPort(a.Addr); err != nil {
		return fmt.Errorf("admin.addr %q: want host:port", a.Addr)
	}
	return nil
}
