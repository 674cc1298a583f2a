package mapping

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// describeColumns writes a shape's columns compactly: name, "<-source"
// when renamed, the cast and mask, "=value" for static fields.
func describeColumns(cols []Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		s := c.Name
		if c.Source != "" && c.Source != c.Name {
			s += "<-" + c.Source
		}
		if c.Cast.To != "" {
			s += " cast:" + string(c.Cast.To)
		}
		if c.Mask != "" {
			s += " mask:" + string(c.Mask)
		}
		if c.Static {
			s += fmt.Sprintf("=%v", c.Value)
		}
		parts[i] = s
	}
	return strings.Join(parts, ", ")
}

func TestOutputSchema(t *testing.T) {
	t.Parallel()
	hash := Mask{Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT"}
	all := "id, cust_nm, email, phone, is_vip, amount, created, status, country, internal_notes"
	for _, tc := range []struct {
		name                string
		cfg                 Config
		row, key            string
		entity, topic       string
		keyFromFields, skip bool
	}{
		{name: "plain", cfg: Config{}, row: all, key: "id"},
		{name: "rename", cfg: Config{Rename: map[string]string{"cust_nm": "name", "id": "customer_id"}},
			row: "customer_id<-id, name<-cust_nm, email, phone, is_vip, amount, created, status, country, internal_notes", key: "customer_id<-id"},
		{name: "drop", cfg: Config{Drop: []string{"internal_notes", "phone", "id"}},
			row: "cust_nm, email, is_vip, amount, created, status, country", key: "id"},
		{name: "mask", cfg: Config{Mask: map[string]Mask{"email": hash, "phone": {Kind: MaskKeepLast, N: 4}, "id": {Kind: MaskRedact}}},
			row: "id mask:redact, cust_nm, email mask:hash, phone mask:keep_last, is_vip, amount, created, status, country, internal_notes", key: "id mask:redact"},
		{name: "cast", cfg: Config{Cast: map[string]Cast{"is_vip": {To: CastBool}, "amount": {To: CastNumber}, "created": {Timezone: "Europe/Berlin"}}},
			row: "id, cust_nm, email, phone, is_vip cast:bool, amount cast:number, created cast:timestamp, status, country, internal_notes", key: "id"},
		{name: "cast and mask", cfg: Config{Cast: map[string]Cast{"amount": {To: CastNumber}}, Mask: map[string]Mask{"amount": {Kind: MaskKeepLast, N: 2}}},
			row: "id, cust_nm, email, phone, is_vip, amount cast:number mask:keep_last, created, status, country, internal_notes", key: "id"},
		{name: "add", cfg: Config{Add: map[string]any{"region": "eu", "version": 2, "gone": nil}, Drop: []string{"cust_nm", "email", "phone", "is_vip", "amount", "created", "status", "country", "internal_notes"}},
			row: "id, gone=<nil>, region=eu, version=2", key: "id"},
		{name: "entity", cfg: Config{Entity: "customer", Drop: []string{"internal_notes"}},
			row: strings.TrimSuffix(all, ", internal_notes"), key: "id", entity: "customer", topic: "cdc.crm.crm.customer"},
		{name: "topic with source key", cfg: Config{Topic: "all-customers", Rename: map[string]string{"id": "cid"}},
			row: strings.Replace(all, "id", "cid<-id", 1), key: "source=crm, cid<-id", topic: "all-customers"},
		{name: "key fields", cfg: Config{Entity: "customer", Rename: map[string]string{"email": "mail"}, Key: Key{Fields: []string{"mail", "country"}}},
			row: strings.Replace(all, "email", "mail<-email", 1), key: "mail<-email, country", entity: "customer", topic: "cdc.crm.crm.customer", keyFromFields: true},
		{name: "key fields with source", cfg: Config{Topic: "t", Add: map[string]any{"tenant": "a"}, Key: Key{Fields: []string{"tenant", "id"}, IncludeSource: ptr(true)}},
			row: all + ", tenant=a", key: "source=crm, tenant=a, id", topic: "t", keyFromFields: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.Table = "crm.customers"
			m := mustCompile(t, cfg)
			tab := custTable("crm", "customers")
			shape, mapped, err := m.OutputSchema("crm", tab)
			if err != nil || !mapped {
				t.Fatalf("OutputSchema: mapped %v, %v", mapped, err)
			}
			if got := describeColumns(shape.Row); got != tc.row {
				t.Errorf("row:\n got  %s\n want %s", got, tc.row)
			}
			if got := describeColumns(shape.Key); got != tc.key {
				t.Errorf("key:\n got  %s\n want %s", got, tc.key)
			}
			if shape.Entity != tc.entity || shape.Topic != tc.topic || shape.KeyFromFields != tc.keyFromFields {
				t.Errorf("entity %q topic %q key from fields %v, want %q %q %v", shape.Entity, shape.Topic, shape.KeyFromFields, tc.entity, tc.topic, tc.keyFromFields)
			}
			// The shape is what Apply writes: the same names in the same order.
			outs := mustApply(t, m, "crm", event(t, tab, capture.OpCreate, nil, custRow(nil)))
			if len(outs) != 1 {
				t.Fatalf("%d outputs", len(outs))
			}
			if got, want := names(outs[0].Event.After), columnNames(shape.Row); got != want {
				t.Errorf("Apply wrote after fields %s, the shape says %s", got, want)
			}
			if got, want := names(outs[0].Event.Key), columnNames(shape.Key); got != want {
				t.Errorf("Apply wrote key fields %s, the shape says %s", got, want)
			}
			if outs[0].Topic != shape.Topic || outs[0].Entity != shape.Entity {
				t.Errorf("Apply routed to %q (entity %q), the shape says %q (%q)", outs[0].Topic, outs[0].Entity, shape.Topic, shape.Entity)
			}
		})
	}
}

func names(row transform.Row) string {
	parts := make([]string, len(row))
	for i, f := range row {
		parts[i] = f.Name
	}
	return strings.Join(parts, ",")
}

func columnNames(cols []Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name
	}
	return strings.Join(parts, ",")
}

func TestOutputSchemaUnmappedAndErrors(t *testing.T) {
	t.Parallel()
	m := mustCompile(t,
		Config{Table: "crm.dup", Rename: map[string]string{"a": "b"}},
		Config{Table: "crm.keyed", Key: Key{Fields: []string{"nope"}}},
		Config{Table: "crm.src", Topic: "shared"},
	)
	if _, mapped, err := m.OutputSchema("crm", custTable("crm", "other")); mapped || err != nil {
		t.Errorf("unmapped table: mapped %v, %v", mapped, err)
	}
	for _, tc := range []struct {
		table *capture.Table
		want  string
	}{
		{custTable("crm", "dup", "id", "a", "b"), `rename.a: "b" is already the name`},
		{custTable("crm", "keyed"), "key.fields.nope: the rows have no such field"},
		{custTable("crm", "src", "source", "v"), `key.include_source: the table's key has a field named "source"`},
	} {
		_, mapped, err := m.OutputSchema("crm", tc.table)
		if !mapped || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: mapped %v, error %v, want %q", tc.table.Name, mapped, err, tc.want)
		}
	}
}
