package postgres

import (
	"errors"
	"strings"
	"testing"
)

func TestWantFailoverSlot(t *testing.T) {
	t.Parallel()
	on, off := ptr(true), ptr(false)
	tests := []struct {
		name    string
		cfg     Config
		version int
		want    bool
		err     string
	}{
		{"17 by default", Config{}, 170002, true, ""},
		{"18 refused", Config{FailoverSlot: off}, 180006, false, ""},
		{"15 by default", Config{}, 150010, false, ""},
		{"15 asked", Config{FailoverSlot: on}, 150010, false, "sources[x].failover_slot needs failover slots, which PostgreSQL has from version 17; the server at db:5432 is version 15.10"},
		{"15 with standbys", Config{FailoverAddrs: []string{"sb:5432"}}, 160004, false, "sources[x].failover_addrs needs failover slots"},
	}
	for _, tt := range tests {
		got, err := tt.cfg.wantFailoverSlot("sources[x]", "db:5432", tt.version)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && (!strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrPreflight)) {
			t.Errorf("%s: %v, %v; want %v, %q", tt.name, got, err, tt.want, tt.err)
		}
	}
}

func TestFailoverWarnings(t *testing.T) {
	t.Parallel()
	ready := standbyView{Addr: "sb:5432", InRecovery: true, HotStandbyFeedback: "on", SyncSlots: "on", SlotExists: true, SlotSynced: true, SlotValid: true}
	if w := failoverWarnings("s1", "db:5432", "sb_slot", []standbyView{ready}); len(w) != 0 {
		t.Errorf("a ready pair: %q", w)
	}
	mod := func(f func(*standbyView)) standbyView { v := ready; f(&v); return v }
	tests := []struct {
		sss  string
		sb   standbyView
		want string
	}{
		{"", ready, "synchronized_standby_slots empty"},
		{"sb", mod(func(v *standbyView) { v.SyncSlots = "off" }), "standby sb:5432 has sync_replication_slots=off"},
		{"sb", mod(func(v *standbyView) { v.HotStandbyFeedback = "off" }), "hot_standby_feedback=off"},
		{"sb", mod(func(v *standbyView) { v.SlotSynced = false }), "no synchronised copy of slot s1"},
		{"sb", mod(func(v *standbyView) { v.SlotValid = false }), "copy of slot s1 is invalidated"},
		{"sb", mod(func(v *standbyView) { v.SlotTemporary = true }), "copy of slot s1 is still temporary"},
		{"sb", mod(func(v *standbyView) { v.InRecovery = false }), "is not a standby"},
	}
	for _, tt := range tests {
		w := failoverWarnings("s1", "db:5432", tt.sss, []standbyView{tt.sb})
		if len(w) != 1 || !strings.Contains(w[0], tt.want) {
			t.Errorf("warnings %q, want one with %q", w, tt.want)
		}
	}
}
