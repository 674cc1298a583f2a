package mapping

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	base := func(edit func(c *Config)) []Config {
		c := Config{Table: "crm.t_cust"}
		edit(&c)
		return []Config{{Table: "crm.other"}, {Table: "crm.other2"}, c}
	}
	tests := []struct {
		name string
		cfgs []Config
		want string // a line of the error
	}{
		{"unknown mask kind", base(func(c *Config) { c.Mask = map[string]Mask{"phone": {Kind: "scramble"}} }),
			`mappings[2] (crm.t_cust): mask.phone: unknown kind "scramble" (want hash, redact, keep_last)`},
		{"mask without kind", base(func(c *Config) { c.Mask = map[string]Mask{"phone": {N: 4}} }),
			`mappings[2] (crm.t_cust): mask.phone: missing kind (want hash, redact, keep_last)`},
		{"salt env not set", base(func(c *Config) { c.Mask = map[string]Mask{"email": {Kind: MaskHash, SaltEnv: "NOPE"}} }),
			`mappings[2] (crm.t_cust): mask.email: salt_env: environment variable NOPE is not set`},
		{"salt empty", base(func(c *Config) { c.Mask = map[string]Mask{"email": {Kind: MaskHash, SaltEnv: "EMPTY_SALT"}} }),
			`mappings[2] (crm.t_cust): mask.email: the salt is empty`},
		{"hash without salt", base(func(c *Config) { c.Mask = map[string]Mask{"email": {Kind: MaskHash}} }),
			`mappings[2] (crm.t_cust): mask.email: hash needs a secret salt: set salt_env or salt_file`},
		{"two salts", base(func(c *Config) {
			c.Mask = map[string]Mask{"email": {Kind: MaskHash, SaltEnv: "TRIBUTARY_MASK_SALT", SaltFile: "/s"}}
		}), `mappings[2] (crm.t_cust): mask.email: set salt_env or salt_file, not both`},
		{"salt file missing", base(func(c *Config) { c.Mask = map[string]Mask{"email": {Kind: MaskHash, SaltFile: "/nonexistent/salt"}} }),
			`mappings[2] (crm.t_cust): mask.email: salt_file: open /nonexistent/salt: no such file or directory`},
		{"keep_last without n", base(func(c *Config) { c.Mask = map[string]Mask{"phone": {Kind: MaskKeepLast}} }),
			`mappings[2] (crm.t_cust): mask.phone: keep_last needs n, the number of trailing characters kept (at least 1)`},
		{"redact with n", base(func(c *Config) { c.Mask = map[string]Mask{"ssn": {Kind: MaskRedact, N: 2}} }),
			`mappings[2] (crm.t_cust): mask.ssn: redact takes no n, salt_env or salt_file`},
		{"unknown cast", base(func(c *Config) { c.Cast = map[string]Cast{"x": {To: "uuid"}} }),
			`mappings[2] (crm.t_cust): cast.x: unknown type "uuid" (want bool, number, timestamp)`},
		{"timestamp without zone", base(func(c *Config) { c.Cast = map[string]Cast{"created": {To: CastTimestamp}} }),
			`mappings[2] (crm.t_cust): cast.created: timestamp needs a timezone (e.g. Europe/Berlin or UTC)`},
		{"unknown zone", base(func(c *Config) { c.Cast = map[string]Cast{"created": {Timezone: "Mars/Olympus"}} }),
			`mappings[2] (crm.t_cust): cast.created: unknown timezone "Mars/Olympus"`},
		{"zone on bool", base(func(c *Config) { c.Cast = map[string]Cast{"v": {To: CastBool, Timezone: "UTC"}} }),
			`mappings[2] (crm.t_cust): cast.v: timezone applies to timestamp casts only, not bool`},
		{"filter syntax", base(func(c *Config) { c.Filter = "after.status ==" }),
			`mappings[2] (crm.t_cust): filter: unexpected token EOF (at column 15 of "after.status ==")`},
		{"filter unknown name", base(func(c *Config) { c.Filter = "row.status == 'x'" }),
			`mappings[2] (crm.t_cust): filter: unknown name row (at column 1 of "row.status == 'x'")`},
		{"filter not bool", base(func(c *Config) { c.Filter = "1 + 2" }),
			`mappings[2] (crm.t_cust): filter: expected bool, but got int (in "1 + 2")`},
		{"rename to empty", base(func(c *Config) { c.Rename = map[string]string{"a": ""} }),
			`mappings[2] (crm.t_cust): rename.a: want a non-empty UTF-8 field name`},
		{"rename twice to one name", base(func(c *Config) { c.Rename = map[string]string{"a": "x", "b": "x"} }),
			`mappings[2] (crm.t_cust): rename.b: "x" is also the new name of a`},
		{"drop and mask", base(func(c *Config) {
			c.Mask = map[string]Mask{"notes": {Kind: MaskRedact}}
			c.Drop = []string{"notes"}
		}), `mappings[2] (crm.t_cust): drop.notes: the column also has a cast, mask or rename rule; drop it or keep it`},
		{"drop twice", base(func(c *Config) { c.Drop = []string{"a", "a"} }),
			`mappings[2] (crm.t_cust): drop.a: listed twice`},
		{"add nested", base(func(c *Config) { c.Add = map[string]any{"meta": map[string]any{"a": 1}} }),
			`mappings[2] (crm.t_cust): add.meta: map[string]interface {}: want a string, number, bool or null (quote dates and times)`},
		{"add clashes with rename", base(func(c *Config) {
			c.Rename = map[string]string{"sys": "system"}
			c.Add = map[string]any{"system": "crm"}
		}), `mappings[2] (crm.t_cust): add.system: "system" is also the new name of sys`},
		{"no table", base(func(c *Config) { c.Table = "" }),
			`mappings[2] (): table: is required: a "db.table" glob`},
		{"bad glob", base(func(c *Config) { c.Table = "crm.[" }),
			`mappings[2] (crm.[): table: bad glob: syntax error in pattern`},
		{"table without db", base(func(c *Config) { c.Table = "customers" }),
			`mappings[2] (customers): table: want "db.table" (a glob such as crm.customers or shop_*.orders)`},
		{"bad entity", base(func(c *Config) { c.Entity = "cust omer" }),
			`mappings[2] (crm.t_cust): entity: "cust omer": want 1-128 of A-Z, a-z, 0-9, _ and -, starting with a letter or digit`},
		{"bad topic", base(func(c *Config) { c.Topic = "canonical/customer" }),
			`mappings[2] (crm.t_cust): topic: "canonical/customer": want 1-249 of A-Z, a-z, 0-9, '.', '_' and '-'`},
		{"key field twice", base(func(c *Config) { c.Key.Fields = []string{"email", "email"} }),
			`mappings[2] (crm.t_cust): key.fields.email: listed twice`},
		{"key field source", base(func(c *Config) { c.Key = Key{Fields: []string{"source"}, IncludeSource: ptr(true)} }),
			`mappings[2] (crm.t_cust): key.fields.source: clashes with the "source" field that include_source adds; rename the column`},
		{"key field dropped", base(func(c *Config) { c.Drop = []string{"email"}; c.Key.Fields = []string{"email"} }),
			`mappings[2] (crm.t_cust): key.fields.email: the column is dropped`},
		{"shared topic, table keys", []Config{
			{Table: "crm.customers", Topic: "canonical.customer", Key: Key{IncludeSource: ptr(false)}},
			{Table: "shop.customers", Topic: "canonical.customer", Key: Key{IncludeSource: ptr(false)}},
		}, `mappings[1] (shop.customers): topic: canonical.customer is also the topic of mappings[0] (crm.customers) and their keys can collide: set key.include_source with a different source on each, or key.fields on both`},
		{"shared topic, same source", []Config{
			{Source: "crm", Table: "crm.customers", Topic: "canonical.customer"},
			{Source: "crm", Table: "crm.leads", Topic: "canonical.customer"},
		}, `mappings[1] (crm.leads): topic: canonical.customer is also the topic of mappings[0] (crm.customers) and their keys can collide`},
		{"shared topic, mixed key kinds", []Config{
			{Source: "crm", Table: "crm.customers", Topic: "canonical.customer", Key: Key{Fields: []string{"email"}}},
			{Source: "shop", Table: "public.customers", Topic: "canonical.customer"},
		}, `mappings[1] (public.customers): topic: canonical.customer is also the topic of mappings[0] (crm.customers)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tt.cfgs, testEnv, WithTopicPrefix("cdc"))
			if err == nil {
				t.Fatalf("Compile succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile error:\n%v\nwant a line containing:\n%s", err, tt.want)
			}
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Compile([]Config{
		{Table: "crm.a", Mask: map[string]Mask{"x": {Kind: "scramble"}}},
		{Table: "crm.b", Cast: map[string]Cast{"y": {To: "uuid"}}, Filter: "(("},
	}, testEnv)
	if err == nil {
		t.Fatal("Compile succeeded")
	}
	for _, want := range []string{"mappings[0] (crm.a): mask.x:", "mappings[1] (crm.b): cast.y:", "mappings[1] (crm.b): filter:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestCompileEntityNeedsPrefix(t *testing.T) {
	t.Parallel()
	_, err := Compile([]Config{{Table: "crm.customers", Entity: "customer"}}, testEnv)
	want := "mappings[0] (crm.customers): entity: routing by entity needs the topic prefix (mapping.WithTopicPrefix); or set topic"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if _, err := Compile([]Config{{Table: "crm.customers", Entity: "customer", Topic: "x"}}, testEnv); err != nil {
		t.Fatalf("with a topic: %v", err)
	}
}

func TestCompileUnknownSource(t *testing.T) {
	t.Parallel()
	cfgs := []Config{{Source: "crn", Table: "crm.customers"}}
	_, err := Compile(cfgs, testEnv, WithSources("crm", "orders"))
	want := `mappings[0] (crm.customers): source: "crn" is not a configured source (crm, orders)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if _, err := Compile(cfgs, testEnv); err != nil {
		t.Fatalf("without WithSources: %v", err)
	}
}

func TestCompileSaltFile(t *testing.T) {
	t.Parallel()
	read := func(name string) ([]byte, error) {
		if name == "/run/secrets/salt" {
			return []byte(testSalt + "\n"), nil
		}
		return nil, errors.New("no such file")
	}
	m, err := Compile([]Config{{Table: "crm.customers", Mask: map[string]Mask{"email": {Kind: MaskHash, SaltFile: "/run/secrets/salt"}}}},
		testEnv, WithReadFile(read))
	if err != nil {
		t.Fatal(err)
	}
	out := mustApply(t, m, "crm", event(t, custTable("crm", "customers"), "c", nil, custRow(nil)))
	if got, want := out[0].Event.After[2].Value, hmacHex(`"zoe@example.com"`); got != want {
		t.Fatalf("hash with the file's salt (newline trimmed) = %v, want %v", got, want)
	}
}

const yamlMappings = `
mappings:
  - source: crm
    table: crm.customers
    entity: customer
    rename: {cust_nm: full_name}
    drop: [internal_notes]
    mask:
      phone: {kind: keep_last, n: 4}
      email: {kind: hash, salt_env: TRIBUTARY_MASK_SALT}
      ssn: redact
    cast:
      is_vip: bool
      amount: number
      created: {timezone: Europe/Berlin}
    add: {system: crm, version: 2, legacy: false}
    topic: canonical.customer
    key: {include_source: true}
    filter: "after.status != 'deleted' && after.country == 'DE'"
`

func TestYAML(t *testing.T) {
	t.Parallel()
	var doc struct {
		Mappings []Config `yaml:"mappings"`
	}
	dec := yaml.NewDecoder(strings.NewReader(yamlMappings))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Mappings[0]
	if c.Mask["ssn"].Kind != MaskRedact || c.Mask["phone"] != (Mask{Kind: MaskKeepLast, N: 4}) ||
		c.Cast["is_vip"].To != CastBool || c.Cast["created"] != (Cast{To: CastTimestamp, Timezone: "Europe/Berlin"}) ||
		c.Key.IncludeSource == nil || !*c.Key.IncludeSource || c.Add["version"] != 2 {
		t.Fatalf("decoded %+v", c)
	}
	m, err := Compile(doc.Mappings, testEnv, WithTopicPrefix("cdc"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.rules[0].add; rowJSON(t, got) != `{"legacy":false,"system":"crm","version":2}` {
		t.Fatalf("add = %s", rowJSON(t, got))
	}
}

func TestYAMLUnknownKeys(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ doc, want string }{
		{"mask: {phone: {kind: keep_last, count: 4}}", `line 1: mask: unknown key "count" (want kind, n, salt_env, salt_file)`},
		{"cast: {created: {zone: UTC}}", `line 1: cast: unknown key "zone" (want to, timezone)`},
		{"cast: {created: [a]}", `line 1: cast: want a mapping or a kind name`},
		{"mask: {phone: {kind: keep_last, n: four}}", `line 1: mask.n: yaml: unmarshal errors`},
	} {
		var c Config
		dec := yaml.NewDecoder(bytes.NewReader([]byte(tt.doc)))
		dec.KnownFields(true)
		err := dec.Decode(&c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.doc, err, tt.want)
		}
	}
}
