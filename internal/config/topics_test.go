package config

import (
	"strings"
	"testing"
)

func TestSideTopics(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 250)
	cases := []struct {
		name, topics, want string // want "" : valid
	}{
		{"off", `{}`, ""},
		{"both", `{transactions: cdc.tx, schema_changes: cdc_schema-changes}`, ""},
		{"longest", `{transactions: ` + long[:249] + `}`, ""},
		{"too long", `{transactions: ` + long + `}`, "topics.transactions"},
		{"bad character", `{transactions: "cdc/tx"}`, `topics.transactions "cdc/tx": want a Kafka topic name`},
		{"dot", `{schema_changes: "."}`, `topics.schema_changes "."`},
		{"dot dot", `{schema_changes: ".."}`, `topics.schema_changes ".."`},
		{"space", `{schema_changes: "a b"}`, "topics.schema_changes"},
		{"shared", `{transactions: meta, schema_changes: meta}`, `topics.schema_changes "meta" is also topics.transactions`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(minimal + "topics: " + tc.topics + "\n"))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("error = %v, want none", err)
				}
				if cfg.Topics.Prefix != "tributary" {
					t.Fatalf("prefix default lost: %+v", cfg.Topics)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
