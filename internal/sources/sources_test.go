package sources

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/debezium"
)

// Every kind is registered with what the commands rely on.
func TestRegisteredKinds(t *testing.T) {
	t.Parallel()
	if kinds := capture.Kinds(); !slices.Equal(kinds, []capture.Kind{"mysql", "postgres"}) {
		t.Fatalf("kinds %v", kinds)
	}
	if _, ok := capture.Lookup(capture.DefaultKind); !ok {
		t.Fatalf("the default kind %s is not registered", capture.DefaultKind)
	}
	tests := []struct {
		kind             capture.Kind
		title            string
		replay, serverID bool
		position, bad    string // a checkpoint position of the kind, and not one
		later            string // a position of the kind after position
		debezium         string // the connector of default settings
	}{
		{"mysql", "MySQL/MariaDB", true, true, "mariadb-bin.000002:4711@0-1-9", "0/16B3748", "mariadb-bin.000010:4", debezium.ConnectorMariaDB},
		{"postgres", "PostgreSQL", false, false, "0/16B3748", "mariadb-bin.000002:4711", "1/0", debezium.ConnectorPostgreSQL},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			reg, ok := capture.Lookup(tc.kind)
			if !ok {
				t.Fatal("not registered")
			}
			if reg.Title != tc.title || reg.CanReplay() != tc.replay || reg.UsesServerID() != tc.serverID {
				t.Errorf("%s, replay %v, server_id %v; want %s, %v, %v", reg.Title, reg.CanReplay(), reg.UsesServerID(), tc.title, tc.replay, tc.serverID)
			}

			pos, err := reg.ParsePosition(tc.position)
			if err != nil || pos.String() != tc.position {
				t.Fatalf("ParsePosition(%q) = %v, %v", tc.position, pos, err)
			}
			if _, err := reg.ParsePosition(tc.bad); err == nil {
				t.Errorf("ParsePosition(%q) accepted another kind's position", tc.bad)
			}
			later, err := reg.ParsePosition(tc.later)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := pos.Compare(later); c != -1 || err != nil {
				t.Errorf("%s.Compare(%s) = %d, %v; want -1", pos, later, c, err)
			}
			if c, err := later.Compare(pos); c != 1 || err != nil {
				t.Errorf("%s.Compare(%s) = %d, %v; want 1", later, pos, c, err)
			}
			if c, err := pos.Compare(pos); c != 0 || err != nil {
				t.Errorf("%s.Compare(itself) = %d, %v; want 0", pos, c, err)
			}
			// A checkpoint written before the snapshot work was kept apart
			// parses to its position alone.
			if legacy, err := reg.ParsePosition(tc.position + "|snapshot=" + snapshot.New("s1", []string{"s.a"}).Encode()); err != nil || legacy.String() != tc.position {
				t.Errorf("legacy position parses to %v, %v; want %s", legacy, err, tc.position)
			}
			for _, other := range tests {
				if other.kind == tc.kind {
					continue
				}
				otherReg, _ := capture.Lookup(other.kind)
				o, err := otherReg.ParsePosition(other.position)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pos.Compare(o); err == nil {
					t.Errorf("%s compared with a %s position without an error", tc.kind, other.kind)
				}
			}

			s := reg.NewSettings()
			reg.Defaults(s, "crm")
			if connector, _ := reg.Debezium(s); connector != tc.debezium {
				t.Errorf("Debezium connector %q, want %q", connector, tc.debezium)
			}
			if err := s.Validate("sources[crm]"); err == nil || !strings.Contains(err.Error(), "sources[crm].addr is required") {
				t.Errorf("empty settings validate to %v", err)
			}
		})
	}
}

// The kind is the events' source.connector, so transform must know it.
func TestKindsAreConnectors(t *testing.T) {
	t.Parallel()
	change := &capture.Change{Op: capture.OpTruncate, Table: &capture.Table{Database: "s", Name: "t"}, EventPosition: "p"}
	for _, k := range capture.Kinds() {
		if _, err := transform.Build("crm", string(k), change, time.Now()); err != nil {
			t.Errorf("kind %s: %v", k, err)
		}
	}
}
