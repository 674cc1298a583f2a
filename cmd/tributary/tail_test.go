package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/config"
)

func TestFormatMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  kafka.Message
		want string
	}{
		{
			name: "event",
			msg: kafka.Message{Topic: "tributary.crm.crm.customers", Partition: 2, Offset: 17,
				Key: []byte(`{"id":42}`), Value: []byte(`{"id":"crm:mariadb-bin.000001:400#0","op":"c","after":{"name":"Zoë 📦"}}`)},
			want: `tributary.crm.crm.customers p2@17 key={"id":42} {"id":"crm:mariadb-bin.000001:400#0","op":"c","after":{"name":"Zoë 📦"}}`,
		},
		{
			name: "tombstone",
			msg:  kafka.Message{Topic: "t", Partition: 0, Offset: 3, Key: []byte(`{"id":1}`)},
			want: `t p0@3 key={"id":1} <tombstone>`,
		},
		{
			name: "empty value is not a tombstone",
			msg:  kafka.Message{Topic: "t", Offset: 4, Key: []byte(`{"id":1}`), Value: []byte{}},
			want: `t p0@4 key={"id":1} `,
		},
		{
			name: "no key",
			msg:  kafka.Message{Topic: "t", Offset: 5, Value: []byte(`{}`)},
			want: `t p0@5 key= {}`,
		},
		{
			name: "line break and invalid UTF-8 are quoted",
			msg:  kafka.Message{Topic: "t", Offset: 6, Key: []byte("a\nb"), Value: []byte{0xff, 'x'}},
			want: `t p0@6 key="a\nb" "\xffx"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := formatMessage(tc.msg)
			if got != tc.want {
				t.Errorf("formatMessage:\n got %s\nwant %s", got, tc.want)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("formatMessage %q spans lines", got)
			}
		})
	}
}

func TestTailTopics(t *testing.T) {
	t.Parallel()
	const yaml = `
checkpoints: {dir: ./data/x}
kafka: {brokers: ["127.0.0.1:19092"]}
topics: {prefix: %s}
sources:
  - {name: crm, addr: "127.0.0.1:13306", user: u, server_id: 1}
  - {name: crm_x2, addr: "127.0.0.1:13306", user: u, server_id: 2}
  - {name: billing, addr: "127.0.0.1:13306", user: u, server_id: 3}
`
	topics := []string{
		"__consumer_offsets",
		"tributary.crm.crm.tickets",
		"tributary.crm.crm.customers",
		"tributary.crm_x5fx2.crm.customers", // source crm_x2, escaped
		"tributary.crm_x2.crm.customers",    // not a source's topic
		"tributary.crmx.crm.customers",
		"tributary.billing.bill.invoices",
		"other.crm.crm.customers",
		"prod.cdc.crm.crm.customers",
		"crm.crm.customers",
	}
	tests := []struct {
		name, prefix, source string
		wantPrefixes         []string
		wantTopics           []string
		wantErr              string
	}{
		{
			name: "every source", prefix: "tributary",
			wantPrefixes: []string{"tributary.crm.", "tributary.crm_x5fx2.", "tributary.billing."},
			wantTopics: []string{"tributary.billing.bill.invoices", "tributary.crm.crm.customers",
				"tributary.crm.crm.tickets", "tributary.crm_x5fx2.crm.customers"},
		},
		{
			name: "one source", prefix: "tributary", source: "crm",
			wantPrefixes: []string{"tributary.crm."},
			wantTopics:   []string{"tributary.crm.crm.customers", "tributary.crm.crm.tickets"},
		},
		{
			name: "dotted prefix", prefix: "prod.cdc", source: "crm",
			wantPrefixes: []string{"prod.cdc.crm."},
			wantTopics:   []string{"prod.cdc.crm.crm.customers"},
		},
		{
			name: "unknown source", prefix: "tributary", source: "nope",
			wantErr: `source "nope" is not in the config`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse([]byte(strings.Replace(yaml, "%s", tc.prefix, 1)))
			if err != nil {
				t.Fatalf("parse config: %v", err)
			}
			prefixes, err := tailPrefixes(cfg, tc.source)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("tailPrefixes error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("tailPrefixes: %v", err)
			}
			if !reflect.DeepEqual(prefixes, tc.wantPrefixes) {
				t.Errorf("prefixes = %q, want %q", prefixes, tc.wantPrefixes)
			}
			if got := matchTopics(topics, prefixes); !reflect.DeepEqual(got, tc.wantTopics) {
				t.Errorf("topics = %q, want %q", got, tc.wantTopics)
			}
		})
	}
}

func TestTopicPrefixEmpty(t *testing.T) {
	t.Parallel()
	if got, want := topicPrefix("", "crm"), "crm."; got != want {
		t.Errorf("topicPrefix(\"\", crm) = %q, want %q", got, want)
	}
}
