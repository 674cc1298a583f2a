package mapping

import (
	"strings"
	"sync"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// TestRules applies each rule kind to an insert of crm.customers and checks
// the after image and the key.
func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		after map[string]string // field → encoded value
		gone  []string          // fields not in after
		key   string
	}{
		{"no rules", Config{}, map[string]string{"cust_nm": `"Zoë"`, "amount": `"1234.50"`}, nil, `{"id":42}`},
		{"rename", Config{Rename: map[string]string{"cust_nm": "full_name", "id": "customer_id"}},
			map[string]string{"full_name": `"Zoë"`, "customer_id": "42"}, []string{"cust_nm", "id"}, `{"customer_id":42}`},
		{"drop", Config{Drop: []string{"internal_notes", "status"}}, map[string]string{"country": `"DE"`},
			[]string{"internal_notes", "status"}, `{"id":42}`},
		{"drop a key column keeps it in the key", Config{Drop: []string{"id"}}, nil, []string{"id"}, `{"id":42}`},
		{"mask keep_last", Config{Mask: map[string]Mask{"phone": {Kind: MaskKeepLast, N: 4}}},
			map[string]string{"phone": `"***********4567"`}, nil, `{"id":42}`},
		{"mask keep_last unicode", Config{Mask: map[string]Mask{"cust_nm": {Kind: MaskKeepLast, N: 1}}},
			map[string]string{"cust_nm": `"**ë"`}, nil, `{"id":42}`},
		{"mask keep_last short value masked whole", Config{Mask: map[string]Mask{"country": {Kind: MaskKeepLast, N: 2}}},
			map[string]string{"country": `"**"`}, nil, `{"id":42}`},
		{"mask keep_last integer key", Config{Mask: map[string]Mask{"id": {Kind: MaskKeepLast, N: 1}}},
			map[string]string{"id": `"*2"`}, nil, `{"id":"*2"}`},
		{"mask hash", Config{Mask: map[string]Mask{"email": {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"}}},
			map[string]string{"email": `"` + hmacHex(`"zoe@example.com"`) + `"`}, nil, `{"id":42}`},
		{"mask hash key", Config{Mask: map[string]Mask{"id": {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"}}},
			map[string]string{"id": `"` + hmacHex(`42`) + `"`}, nil, `{"id":"` + hmacHex(`42`) + `"}`},
		{"mask redact", Config{Mask: map[string]Mask{"phone": {Kind: MaskRedact}}},
			map[string]string{"phone": `"***"`}, nil, `{"id":42}`},
		{"cast bool", Config{Cast: map[string]Cast{"is_vip": {To: CastBool}}}, map[string]string{"is_vip": "true"}, nil, `{"id":42}`},
		{"cast number", Config{Cast: map[string]Cast{"amount": {To: CastNumber}}}, map[string]string{"amount": "1234.50"}, nil, `{"id":42}`},
		{"cast timestamp", Config{Cast: map[string]Cast{"created": {Timezone: "Europe/Berlin"}}},
			map[string]string{"created": `"2024-07-01T10:00:00.123456Z"`}, nil, `{"id":42}`},
		{"add", Config{Add: map[string]any{"system": "crm", "a_version": 2, "gone": nil}},
			map[string]string{"system": `"crm"`, "a_version": "2", "gone": "null"}, nil, `{"id":42}`},
		{"cast, mask, rename in order", Config{
			Cast:   map[string]Cast{"amount": {To: CastNumber}},
			Mask:   map[string]Mask{"amount": {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"}},
			Rename: map[string]string{"amount": "total"},
		}, map[string]string{"total": `"` + hmacHex(`1234.50`) + `"`}, []string{"amount"}, `{"id":42}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Table = "crm.customers"
			m := mustCompile(t, tt.cfg)
			ev := event(t, custTable("crm", "customers"), capture.OpCreate, nil, custRow(nil))
			orig := rowJSON(t, ev.After)
			out := mustApply(t, m, "crm", ev)
			if len(out) != 1 {
				t.Fatalf("%d outputs, want 1", len(out))
			}
			o := out[0]
			for name, want := range tt.after {
				f, ok := field(o.Event.After, name)
				if !ok {
					t.Errorf("after lacks %s: %s", name, rowJSON(t, o.Event.After))
					continue
				}
				if got := rowJSON(t, transform.Row{f}); got != `{"`+name+`":`+want+`}` {
					t.Errorf("after.%s: got %s, want %s", name, got, want)
				}
			}
			for _, name := range tt.gone {
				if _, ok := field(o.Event.After, name); ok {
					t.Errorf("after still has %s", name)
				}
			}
			if string(o.Key) != tt.key || rowJSON(t, o.Event.Key) != tt.key {
				t.Errorf("key %s / event key %s, want %s", o.Key, rowJSON(t, o.Event.Key), tt.key)
			}
			if got := rowJSON(t, ev.After); got != orig {
				t.Errorf("Apply modified its input:\n%s\nwas\n%s", got, orig)
			}
			if o.Topic != "" || o.Entity != "" {
				t.Errorf("topic %q entity %q, want the table's own", o.Topic, o.Entity)
			}
		})
	}
}

func TestAddAndOrderInImages(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers",
		Rename: map[string]string{"cust_nm": "name"},
		Drop:   []string{"internal_notes", "created", "amount", "is_vip", "phone", "email"},
		Add:    map[string]any{"system": "crm"},
	})
	before := custRow(nil)
	after := custRow(map[string]any{"status": "vip"})
	out := mustApply(t, m, "crm", event(t, custTable("crm", "customers"), capture.OpUpdate, before, after))
	want := `{"id":42,"name":"Zoë","status":"active","country":"DE","system":"crm"}`
	if got := rowJSON(t, out[0].Event.Before); got != want {
		t.Errorf("before = %s, want %s", got, want)
	}
	want = strings.Replace(want, "active", "vip", 1)
	if got := rowJSON(t, out[0].Event.After); got != want {
		t.Errorf("after = %s, want %s", got, want)
	}
}

func TestAbsentColumns(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers",
		Rename: map[string]string{"cust_nm": "name"}, Drop: []string{"internal_notes"}})
	after := custRow(nil)
	after[1], after[9], after[3] = capture.Absent, capture.Absent, capture.Absent // cust_nm, internal_notes, phone
	ev := event(t, custTable("crm", "customers"), capture.OpUpdate, custRow(nil), after)
	o := mustApply(t, m, "crm", ev)[0]
	if got := strings.Join(o.Event.Absent.After, ","); got != "name,phone" {
		t.Errorf("absent.after = %s, want name,phone", got)
	}
	if len(o.Event.Absent.Before) != 0 {
		t.Errorf("absent.before = %v", o.Event.Absent.Before)
	}
	if got := strings.Join(ev.Absent.After, ","); got != "cust_nm,phone,internal_notes" {
		t.Errorf("input changed: %s", got)
	}
}

func TestEntityTopicAndJSON(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers", Entity: "customer"})
	o := mustApply(t, m, "crm", event(t, custTable("crm", "customers"), capture.OpCreate, nil, custRow(nil)))[0]
	if o.Topic != "cdc.crm.crm.customer" || o.Entity != "customer" {
		t.Fatalf("topic %q entity %q", o.Topic, o.Entity)
	}
	// Entity alone routes per source and database, so the key gets the
	// source only when asked.
	if string(o.Key) != `{"id":42}` {
		t.Errorf("key %s", o.Key)
	}
	js := outJSON(t, &o)
	if !strings.HasPrefix(js, `{"id":"crm:bin.000001:100#0","op":"c","entity":"customer","key":{"id":42},"before":null,`) {
		t.Errorf("JSON: %s", js)
	}
	if !strings.Contains(js, `"database":"crm","table":"customers"`) {
		t.Errorf("source.table must stay the real table: %s", js)
	}
}

func TestAfterOpSkipsEscapedID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{`a","op":"x`, `back\slash`, `q"`, "tab\there", ""} {
		o := Output{Event: transform.Event{ID: id, Op: capture.OpDelete, Key: transform.Row{}}, Entity: "e"}
		js := outJSON(t, &o)
		if !strings.Contains(js, `"op":"d","entity":"e","key":{}`) {
			t.Errorf("id %q: %s", id, js)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers", Topic: "canonical.customer", Filter: "after.country == 'DE'"})
	ev := event(t, custTable("crm", "customers"), capture.OpTruncate, nil, nil)
	out := mustApply(t, m, "crm", ev)
	if len(out) != 1 || out[0].Topic != "canonical.customer" || string(out[0].Key) != `{"source":"crm"}` {
		t.Fatalf("truncate: %+v", out)
	}
}

func TestUnmapped(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Source: "crm", Table: "crm.cust*"}, Config{Table: "shop.orders"})
	for _, tc := range []struct {
		source, db, table string
		mapped            bool
	}{
		{"crm", "crm", "customers", true},
		{"other", "crm", "customers", false}, // source mismatch
		{"crm", "crm", "orders", false},
		{"other", "shop", "orders", true}, // any source
		{"crm", "crmx", "customers", false},
	} {
		ev := event(t, custTable(tc.db, tc.table), capture.OpCreate, nil, custRow(nil))
		dst := make([]Output, 0, 2)
		for range 2 { // the second lookup is cached
			out, mapped, err := m.Apply(dst, tc.source, ev)
			if err != nil || mapped != tc.mapped || (!mapped && len(out) != 0) {
				t.Errorf("%+v: mapped %v, %d outputs, err %v", tc, mapped, len(out), err)
			}
		}
	}
	var nilMapper *Mapper
	if _, mapped, err := nilMapper.Apply(nil, "crm", event(t, custTable("crm", "customers"), capture.OpCreate, nil, custRow(nil))); mapped || err != nil {
		t.Errorf("nil Mapper: mapped %v err %v", mapped, err)
	}
}

func TestFirstMatchWins(t *testing.T) {
	t.Parallel()
	m := mustCompile(t,
		Config{Table: "crm.customers", Add: map[string]any{"rule": "first"}},
		Config{Table: "crm.*", Add: map[string]any{"rule": "second"}})
	o := mustApply(t, m, "crm", event(t, custTable("crm", "customers"), capture.OpCreate, nil, custRow(nil)))[0]
	if f, _ := field(o.Event.After, "rule"); f.Value != "first" {
		t.Errorf("rule = %v", f.Value)
	}
}

func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.*", Filter: "after.country == 'DE'",
		Mask: map[string]Mask{"email": {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"}}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tab := custTable("crm", "t"+string(rune('a'+(g+i)%5)))
				ev := event(t, tab, capture.OpCreate, nil, custRow(nil))
				out, _, err := m.Apply(nil, "crm", ev)
				if err != nil || len(out) != 1 {
					t.Errorf("Apply: %d outputs, %v", len(out), err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
