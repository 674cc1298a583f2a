package avro

import (
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

func testEnv(name string) (string, bool) { return "pepper", name == "SALT" }

// mappedTable has a column for each kind of rule, as MySQL and PostgreSQL
// name their types.
func mappedTable(postgres bool) (*capture.Table, []any) {
	types := []string{"int", "varchar(20)", "varchar(40)", "varchar(20)", "tinyint(1)", "decimal(10,2)", "datetime(3)", "text", "int", "varchar(10)"}
	if postgres {
		types = []string{"int4", "text", "text", "text", "int4", "numeric(10,2)", "timestamp", "text", "int4", "text"}
	}
	names := []string{"id", "cust_nm", "email", "phone", "is_vip", "amount", "created", "notes", "score", "qty"}
	t := &capture.Table{Database: "crm", Name: "customers", Key: []int{0}}
	for i, n := range names {
		t.Columns = append(t.Columns, capture.Column{Name: n, Type: types[i]})
	}
	created := "2024-07-01 12:00:00.120"
	if postgres {
		created = "2024-07-01 12:00:00.12"
	}
	return t, []any{int64(42), "Zoë", "zoe@example.com", "+49 170 1234567", int64(1), "-0.00", created, nil, int64(7), "0012.5"}
}

// Mapped events encode with schemas derived from the mapping's output, and
// decode (generically, from the schema alone) to the JSON format's mapped
// event byte for byte, key included.
func TestMappedSchemaRoundTrip(t *testing.T) {
	t.Parallel()
	hash := mapping.Mask{Kind: mapping.MaskHash, SaltEnv: "SALT"}
	cases := []struct {
		name string
		cfg  mapping.Config
		// fields is the Row record's fields, with their non-null types.
		fields, key string
		ns          string
	}{
		{"rename", mapping.Config{Rename: map[string]string{"cust_nm": "full name", "id": "customer_id"}},
			"customer_id:int full_name:string email:string phone:string is_vip:int amount:bytes.decimal created:long.local-timestamp-micros notes:string score:int qty:string",
			"customer_id:int", "p.src.crm.customers"},
		{"drop", mapping.Config{Drop: []string{"notes", "phone", "id"}},
			"cust_nm:string email:string is_vip:int amount:bytes.decimal created:long.local-timestamp-micros score:int qty:string",
			"id:int", "p.src.crm.customers"},
		{"mask", mapping.Config{Mask: map[string]mapping.Mask{"email": hash, "phone": {Kind: mapping.MaskKeepLast, N: 4}, "score": {Kind: mapping.MaskRedact}, "id": hash, "notes": {Kind: mapping.MaskRedact}}},
			"id:string cust_nm:string email:string phone:string is_vip:int amount:bytes.decimal created:long.local-timestamp-micros notes:string score:string qty:string",
			"id:string", "p.src.crm.customers"},
		{"cast", mapping.Config{Cast: map[string]mapping.Cast{"is_vip": {To: mapping.CastBool}, "amount": {To: mapping.CastNumber}, "qty": {To: mapping.CastNumber},
			"score": {To: mapping.CastNumber}, "created": {Timezone: "Europe/Berlin"}}},
			"id:int cust_nm:string email:string phone:string is_vip:boolean amount:bytes.decimal created:long.timestamp-micros notes:string score:int qty:string",
			"id:int", "p.src.crm.customers"},
		{"add", mapping.Config{Add: map[string]any{"region": "eu", "version": 2, "weight": 0.5, "live": true, "gone": nil}},
			"id:int cust_nm:string email:string phone:string is_vip:int amount:bytes.decimal created:long.local-timestamp-micros notes:string score:int qty:string gone:null live:boolean region:string version:long weight:double",
			"id:int", "p.src.crm.customers"},
		{"entity", mapping.Config{Entity: "customer", Drop: []string{"notes", "qty", "score", "phone", "created"}},
			"id:int cust_nm:string email:string is_vip:int amount:bytes.decimal",
			"id:int", "p.src.crm.customer"},
		{"topic", mapping.Config{Topic: "all.customers-v1", Drop: []string{"notes", "qty", "score", "phone", "created"}},
			"id:int cust_nm:string email:string is_vip:int amount:bytes.decimal",
			"source:string id:int", "all.customers_v1"},
		{"key fields", mapping.Config{Entity: "customer", Rename: map[string]string{"email": "mail"}, Drop: []string{"notes", "qty", "score", "phone", "created"}, Key: mapping.Key{Fields: []string{"mail"}}},
			"id:int cust_nm:string mail:string is_vip:int amount:bytes.decimal",
			"mail:string", "p.src.crm.customer"},
	}
	for _, tc := range cases {
		for _, postgres := range []bool{false, true} {
			connector := transform.ConnectorMySQL
			if postgres {
				connector = transform.ConnectorPostgres
			}
			t.Run(tc.name+"/"+connector, func(t *testing.T) {
				t.Parallel()
				cfg := tc.cfg
				cfg.Table = "crm.customers"
				m, err := mapping.Compile([]mapping.Config{cfg}, testEnv, mapping.WithTopicPrefix("p"))
				if err != nil {
					t.Fatal(err)
				}
				table, row := mappedTable(postgres)
				c := &capture.Change{Op: capture.OpUpdate, Table: table, Before: row, After: row, Position: "p", EventPosition: "e"}
				evs, err := transform.Build("src", connector, c, c.CommitTime)
				if err != nil {
					t.Fatal(err)
				}
				outs, mapped, err := m.Apply(nil, "src", &evs[0])
				if err != nil || !mapped || len(outs) != 1 {
					t.Fatalf("Apply: %d outputs, mapped %v, %v", len(outs), mapped, err)
				}
				o := &outs[0]
				want, err := o.AppendJSON(nil)
				if err != nil {
					t.Fatal(err)
				}
				enc, err := NewEncoder("p").EncodeMapped(m, o, table)
				if err != nil {
					t.Fatalf("EncodeMapped: %v", err)
				}
				if enc.ValueSchema.FullName != tc.ns+".Value" || enc.KeySchema.FullName != tc.ns+".Key" {
					t.Errorf("records %s and %s, want namespace %s", enc.ValueSchema.FullName, enc.KeySchema.FullName, tc.ns)
				}
				value := enc.ValueSchema.Parsed.(*avro.RecordSchema)
				if got := describeRecord(t, fieldOf(t, value, "before")); got != tc.fields {
					t.Errorf("row fields:\n got  %s\n want %s", got, tc.fields)
				}
				if got := describeRecord(t, enc.KeySchema.Parsed); got != tc.key {
					t.Errorf("key fields:\n got  %s\n want %s", got, tc.key)
				}
				var v map[string]any
				if err := avro.Unmarshal(enc.ValueSchema.Parsed, enc.Value, &v); err != nil {
					t.Fatal(err)
				}
				got, err := CanonicalJSON(enc.ValueSchema.Parsed, v)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Errorf("decoded:\n got  %s\n want %s", got, want)
				}
				var k map[string]any
				if err := avro.Unmarshal(enc.KeySchema.Parsed, enc.Key, &k); err != nil {
					t.Fatal(err)
				}
				if gotKey, err := CanonicalKeyJSON(enc.KeySchema.Parsed, k); err != nil || string(gotKey) != string(o.Key) {
					t.Errorf("key %s (%v), want %s", gotKey, err, o.Key)
				}
			})
		}
	}
}

func fieldOf(t *testing.T, rec *avro.RecordSchema, name string) avro.Schema {
	t.Helper()
	for _, f := range rec.Fields() {
		if f.Name() == name {
			return f.Type()
		}
	}
	t.Fatalf("%s has no field %s", rec.FullName(), name)
	return nil
}

// describeRecord lists a record's fields as name:type, the type of a
// nullable field its first non-null member's (with its logical type).
func describeRecord(t *testing.T, s avro.Schema) string {
	t.Helper()
	rec, ok := nonNull(s).(*avro.RecordSchema)
	if !ok {
		t.Fatalf("%s is not a record", s)
	}
	var parts []string
	for _, f := range rec.Fields() {
		typ := f.Type()
		if u, ok := typ.(*avro.UnionSchema); ok {
			typ = u.Types()[0]
			if typ.Type() == avro.Null && len(u.Types()) > 1 {
				typ = u.Types()[1]
			}
		}
		name := string(typ.Type())
		if l, ok := typ.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
			name += "." + string(l.Logical().Type())
		}
		parts = append(parts, f.Name()+":"+name)
	}
	return strings.Join(parts, " ")
}
