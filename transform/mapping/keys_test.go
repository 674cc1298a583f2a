package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// heterogeneous is docs/mapping.md's example: the CRM's MariaDB
// crm.customers(id, name, email, phone) and the order system's PostgreSQL
// public.customers(customer_id, full_name, email) on one topic with the
// same field names.
func heterogeneous(key Key) []Config {
	return []Config{
		{Source: "crm", Table: "crm.customers", Entity: "customer", Topic: "canonical.customer", Key: key,
			Rename: map[string]string{"name": "full_name"},
			Mask:   map[string]Mask{"phone": {Kind: MaskKeepLast, N: 4}},
			Add:    map[string]any{"system": "crm"}},
		{Source: "orders", Table: "public.customers", Entity: "customer", Topic: "canonical.customer", Key: key,
			Rename: map[string]string{"customer_id": "id"},
			Add:    map[string]any{"system": "orders"}},
	}
}

func heterogeneousEvents(t *testing.T) (crm, orders *transform.Event) {
	crmTab := custTable("crm", "customers", "id", "name", "email", "phone")
	pgTab := custTable("public", "customers", "customer_id", "full_name", "email")
	crm = &events(t, "crm", transform.ConnectorMySQL, crmTab, capture.OpCreate, nil,
		[]any{int64(42), "Zoë", "zoe@example.com", "+49 170 1234567"})[0]
	orders = &events(t, "orders", transform.ConnectorPostgres, pgTab, capture.OpCreate, nil,
		[]any{int64(42), "Zoë Adams", "zoe@example.com"})[0]
	return crm, orders
}

func TestSharedTopicKeysDoNotCollide(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, heterogeneous(Key{})...)
	crm, orders := heterogeneousEvents(t)
	a := mustApply(t, m, "crm", crm)[0]
	b := mustApply(t, m, "orders", orders)[0]
	if a.Topic != "canonical.customer" || b.Topic != "canonical.customer" {
		t.Fatalf("topics %q %q", a.Topic, b.Topic)
	}
	if string(a.Key) != `{"source":"crm","id":42}` || string(b.Key) != `{"source":"orders","id":42}` {
		t.Fatalf("keys %s %s", a.Key, b.Key)
	}
	if got := rowJSON(t, a.Event.After); got != `{"id":42,"full_name":"Zoë","email":"zoe@example.com","phone":"***********4567","system":"crm"}` {
		t.Errorf("crm after %s", got)
	}
	if got := rowJSON(t, b.Event.After); got != `{"id":42,"full_name":"Zoë Adams","email":"zoe@example.com","system":"orders"}` {
		t.Errorf("orders after %s", got)
	}
	if js := outJSON(t, &b); !strings.Contains(js, `"op":"c","entity":"customer","key":{"source":"orders","id":42}`) ||
		!strings.Contains(js, `"connector":"postgres","name":"orders","database":"public","table":"customers"`) {
		t.Errorf("orders JSON %s", js)
	}
}

func TestSharedTopicCanonicalKey(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, heterogeneous(Key{Fields: []string{"email"}})...)
	crm, orders := heterogeneousEvents(t)
	a := mustApply(t, m, "crm", crm)[0]
	b := mustApply(t, m, "orders", orders)[0]
	if string(a.Key) != `{"email":"zoe@example.com"}` || string(a.Key) != string(b.Key) {
		t.Fatalf("keys %s %s, want one customer's key", a.Key, b.Key)
	}
}

func TestSharedTopicCollisionAtRunTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		// tables (source, database.table) routed in order; the last collides
		tables [][2]string
	}{
		{"glob over one source", Config{Table: "crm.*", Topic: "canonical.customer"},
			[][2]string{{"crm", "crm.customers"}, {"other", "crm.customers"}, {"crm", "crm.leads"}}},
		{"entity over one database", Config{Table: "crm.*", Entity: "customer"},
			[][2]string{{"crm", "crm.customers"}, {"other", "crm.leads"}, {"crm", "crm.leads"}}},
		{"table keys", Config{Table: "*.customers", Topic: "canonical.customer", Key: Key{IncludeSource: ptr(false)}},
			[][2]string{{"crm", "crm.customers"}, {"orders", "public.customers"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, tt.cfg)
			for i, st := range tt.tables {
				db, table, _ := strings.Cut(st[1], ".")
				ev := event(t, custTable(db, table), capture.OpCreate, nil, custRow(nil))
				_, _, err := m.Apply(nil, st[0], ev)
				last := i == len(tt.tables)-1
				if !last && err != nil {
					t.Fatalf("%v: %v", st, err)
				}
				if last {
					var re *RowError
					if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "their keys can collide") {
						t.Fatalf("%v: got %v, want a collision error", st, err)
					}
					t.Log(err)
				}
			}
		})
	}
}

func TestKeyFieldsChangeSplits(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers", Rename: map[string]string{"email": "mail"},
		Key: Key{Fields: []string{"mail"}, IncludeSource: ptr(true)}})
	tab := custTable("crm", "customers")
	before := custRow(nil)
	after := custRow(map[string]any{"email": "zoe@new.example"})
	after[3] = capture.Absent // phone not logged
	out := mustApply(t, m, "crm", event(t, tab, capture.OpUpdate, before, after))
	if len(out) != 2 {
		t.Fatalf("%d outputs, want a delete and a create", len(out))
	}
	del, cre := out[0], out[1]
	if del.Event.Op != capture.OpDelete || del.Event.ID != "crm:bin.000001:100#0.0" || del.Event.After != nil ||
		string(del.Key) != `{"source":"crm","mail":"zoe@example.com"}` || rowJSON(t, del.Event.Key) != string(del.Key) {
		t.Errorf("delete: %s key %s", outJSON(t, &del), del.Key)
	}
	if cre.Event.Op != capture.OpCreate || cre.Event.ID != "crm:bin.000001:100#0.1" || cre.Event.Before != nil ||
		string(cre.Key) != `{"source":"crm","mail":"zoe@new.example"}` {
		t.Errorf("create: %s key %s", outJSON(t, &cre), cre.Key)
	}
	if f, ok := field(cre.Event.After, "phone"); !ok || f.Value != "+49 170 1234567" || !cre.Event.Absent.Empty() {
		t.Errorf("create lacks the phone it had: %s absent %v", rowJSON(t, cre.Event.After), cre.Event.Absent)
	}

	// Unchanged key field (absent in after: unchanged): one update.
	after = custRow(map[string]any{"status": "vip"})
	after[2] = capture.Absent
	out = mustApply(t, m, "crm", event(t, tab, capture.OpUpdate, before, after))
	if len(out) != 1 || out[0].Event.Op != capture.OpUpdate || string(out[0].Key) != `{"source":"crm","mail":"zoe@example.com"}` {
		t.Errorf("update: %d outputs", len(out))
	}
	// A delete is keyed from before.
	out = mustApply(t, m, "crm", event(t, tab, capture.OpDelete, before, nil))
	if string(out[0].Key) != `{"source":"crm","mail":"zoe@example.com"}` {
		t.Errorf("delete key %s", out[0].Key)
	}
}

func TestRowErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		cols  []string // table columns, custColumns when nil
		row   []any
		rule  string
		error string
	}{
		{"bool out of range", Config{Cast: map[string]Cast{"is_vip": {To: CastBool}}}, nil, custRow(map[string]any{"is_vip": int64(2)}),
			"cast.is_vip", "map table crm.customers: mappings[0] (crm.customers): cast.is_vip: want an integer 0 or 1, got another integer"},
		{"not a number", Config{Cast: map[string]Cast{"amount": {To: CastNumber}}}, nil, custRow(map[string]any{"amount": "12,50"}),
			"cast.amount", "want a numeric string, got a string that is not a decimal number"},
		{"skipped hour", Config{Cast: map[string]Cast{"created": {Timezone: "Europe/Berlin"}}}, nil,
			custRow(map[string]any{"created": "2024-03-31 02:30:00"}), "cast.created", "does not exist in Europe/Berlin"},
		{"mask after cast", Config{Cast: map[string]Cast{"is_vip": {To: CastBool}}, Mask: map[string]Mask{"is_vip": {Kind: MaskKeepLast, N: 1}}},
			nil, custRow(nil), "mask.is_vip", "keep_last needs a string or number, got a boolean"},
		{"rename onto a column", Config{Rename: map[string]string{"cust_nm": "email"}}, nil, custRow(nil),
			"rename.cust_nm", `"email" is already the name of another column of the table`},
		{"add onto a column", Config{Add: map[string]any{"country": "DE"}}, nil, custRow(nil),
			"add.country", `"country" is already the name of another column of the table`},
		{"key field missing", Config{Key: Key{Fields: []string{"mail"}}}, nil, custRow(nil),
			"key.fields.mail", "the row has no such field"},
		{"key named source", Config{Topic: "t"}, []string{"source", "x"}, []any{"a", "b"},
			"key.include_source", `the table's key has a field named "source"; rename it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Table = "crm.customers"
			m := mustCompile(t, tt.cfg)
			re := rowErr(t, m, event(t, custTable("crm", "customers", tt.cols...), capture.OpCreate, nil, tt.row))
			if re.Rule != tt.rule || re.Table != "crm.customers" || !strings.Contains(re.Error(), tt.error) {
				t.Fatalf("got %+v (%v), want rule %s and %q", re, re, tt.rule, tt.error)
			}
		})
	}
}

func TestDeadLetter(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers",
		Mask: map[string]Mask{
			"id":     {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"},
			"email":  {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"},
			"phone":  {Kind: MaskKeepLast, N: 4},
			"amount": {Kind: MaskKeepLast, N: 2},
		},
		Cast:   map[string]Cast{"is_vip": {To: CastBool}, "amount": {To: CastNumber}},
		Drop:   []string{"internal_notes"},
		Rename: map[string]string{"cust_nm": "name"},
	})
	before := custRow(nil)
	after := custRow(map[string]any{"is_vip": int64(7), "amount": []byte{1}})
	after[9] = capture.Absent
	ev := event(t, custTable("crm", "customers"), capture.OpUpdate, before, after)
	re := rowErr(t, m, ev)
	dl := DeadLetter(ev, re)
	if !json.Valid(dl) {
		t.Fatalf("invalid JSON: %s", dl)
	}
	for _, secret := range []string{"zoe@example.com", "1234567", "likes cats", "internal_notes", `"id":42`, "1234.50"} {
		if strings.Contains(string(dl), secret) {
			t.Errorf("dead letter shows %q: %s", secret, dl)
		}
	}
	var strict transform.DeadLetter // the one shape, the sink's oversized record's too
	dec := json.NewDecoder(strings.NewReader(string(dl)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&strict); err != nil || strict.Kind != transform.DeadLetterMapping {
		t.Errorf("record %s: not a transform.DeadLetter of kind mapping (%v)", dl, err)
	}
	var rec struct {
		Reason, Rule, Table, ID string
		Key                     map[string]any
		Event                   struct {
			Op     string
			Key    map[string]any
			Before map[string]any
			After  map[string]any
			Absent struct{ Before, After []string }
		}
	}
	if err := json.Unmarshal(dl, &rec); err != nil {
		t.Fatal(err)
	}
	idHash := hmacHex("42")
	if rec.Rule != "cast.is_vip" || rec.Table != "crm.customers" || rec.ID != ev.ID ||
		rec.Reason != "want an integer 0 or 1, got another integer" || rec.Key["id"] != idHash || rec.Event.Key["id"] != idHash {
		t.Errorf("record %s", dl)
	}
	if rec.Event.After["phone"] != "***********4567" || rec.Event.After["email"] != hmacHex(`"zoe@example.com"`) ||
		rec.Event.After["amount"] != "***" || rec.Event.Before["amount"] != "*****50" ||
		rec.Event.After["is_vip"] != 7.0 || rec.Event.After["cust_nm"] != "Zoë" || len(rec.Event.Absent.After) != 0 {
		t.Errorf("event %s", dl)
	}
	if got := string(DeadLetterKey(ev, re)); got != `{"id":"`+idHash+`"}` {
		t.Errorf("DeadLetterKey = %s", got)
	}
}
