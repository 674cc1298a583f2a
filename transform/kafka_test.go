package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
)

func TestEncodeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"single column", Event{Key: Row{{"id", int64(42)}}}, `{"id":42}`},
		{"composite in key order", Event{Key: Row{{"tenant", "acme"}, {"id", uint64(18446744073709551615)}}}, `{"tenant":"acme","id":18446744073709551615}`},
		{"nil key is empty object", Event{}, `{}`},
		{"unencodable key is nil", Event{Key: Row{{"id", 1}}}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := EncodeKey(&tt.ev); string(got) != tt.want {
				t.Errorf("EncodeKey = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEncodeKeySplitEvents(t *testing.T) {
	t.Parallel()
	tab := &capture.Table{
		Database: "shop", Name: "lines",
		Columns: []capture.Column{{Name: "qty"}, {Name: "order_id"}, {Name: "line"}},
		Key:     []int{1, 2},
	}
	c := change(capture.OpUpdate, []any{int64(1), int64(7), int64(1)}, []any{int64(1), int64(7), int64(2)})
	c.Table = tab
	evs := mustBuild(t, c)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	if got := string(EncodeKey(&evs[0])); got != `{"order_id":7,"line":1}` {
		t.Errorf("delete key = %s", got)
	}
	if got := string(EncodeKey(&evs[1])); got != `{"order_id":7,"line":2}` {
		t.Errorf("create key = %s", got)
	}
}

func TestTopicName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("t", 250)
	longFull := "cdc.main.shop." + long
	sum := sha256.Sum256([]byte(longFull))
	tests := []struct {
		name                            string
		prefix, source, database, table string
		want                            string
	}{
		{"plain", "cdc", "main", "shop", "users", "cdc.main.shop.users"},
		{"empty prefix dropped", "", "main", "shop", "users", "main.shop.users"},
		{"prefix keeps dots", "prod.cdc", "main", "shop", "users", "prod.cdc.main.shop.users"},
		{"allowed bytes kept", "", "a-b", "c_d", "E9", "a-b.c_d.E9"},
		{"space", "", "main", "shop", "order items", "main.shop.order_x20items"},
		{"utf-8 bytes", "", "main", "café", "t", "main.caf_xc3_xa9.t"},
		{"emoji", "", "main", "shop", "👍", "main.shop._xf0_x9f_x91_x8d"},
		{"dot inside a part", "", "main", "a.b", "c", "main.a_x2eb.c"},
		{"dot cannot fake a part", "", "main", "a", "b.c", "main.a.b_x2ec"},
		{"underscore before x escaped", "", "main", "shop", "a_x20", "main.shop.a_x5fx20"},
		{"underscore at end kept", "", "main", "shop", "a_", "main.shop.a_"},
		{"slash and quote", "", "main", "shop", `a/b"`, "main.shop.a_x2fb_x22"},
		{"empty database", "", "main", "", "t", "main..t"},
		{"long name truncated with hash", "cdc", "main", "shop", long, longFull[:240] + "-" + hex.EncodeToString(sum[:])[:8]},
		{"exactly 249 kept", "", "m", "d", strings.Repeat("x", 245), "m.d." + strings.Repeat("x", 245)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := TopicName(tt.prefix, tt.source, tt.database, tt.table)
			if got != tt.want {
				t.Errorf("TopicName(%q, %q, %q, %q) = %q, want %q", tt.prefix, tt.source, tt.database, tt.table, got, tt.want)
			}
			if len(got) > 249 {
				t.Errorf("len = %d, over Kafka's 249", len(got))
			}
			for i := 0; i < len(got); i++ {
				c := got[i]
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
					t.Errorf("byte %q at %d is not legal in a topic name", c, i)
				}
			}
		})
	}
}

// FuzzTopicName checks that topic names are legal and that distinct tables
// never share a topic.
func FuzzTopicName(f *testing.F) {
	f.Add("a b", "a_x20")
	f.Add("a.b", "a_x2eb")
	f.Add("_x", "_x5fx")
	f.Fuzz(func(t *testing.T, a, b string) {
		ta, tb := TopicName("p", "s", "d", a), TopicName("p", "s", "d", b)
		if a != b && ta == tb && len(ta) < 249 {
			t.Errorf("tables %q and %q share topic %q", a, b, ta)
		}
		if len(ta) > 249 {
			t.Errorf("topic %q longer than 249", ta)
		}
	})
}
