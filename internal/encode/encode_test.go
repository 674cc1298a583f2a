package encode

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// recorder is an Output that keeps "kind topic" per message, and fails at
// message failAt (1-based) when set.
type recorder struct {
	got    []string
	failAt int
}

var kindNames = map[Kind]string{KindEvent: "event", KindTombstone: "tombstone", KindDeadLetter: "dead-letter",
	KindTransaction: "tx", KindSchema: "schema"}

func (r *recorder) Emit(o Out) error {
	if r.failAt != 0 && len(r.got)+1 == r.failAt {
		return errors.New("output full")
	}
	r.got = append(r.got, kindNames[o.Kind]+" "+o.Topic)
	return nil
}

func TestEncoderOrderAndKinds(t *testing.T) {
	t.Parallel()
	strict, err := mapping.Compile([]mapping.Config{{Table: "shop.orders", Filter: "after.missing > 1"}}, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1706745600, 0)
	tests := []struct {
		name   string
		cfg    Config
		ops    []capture.Op
		failAt int
		want   []string
		wantN  []int // events that went out per change
	}{
		{
			name: "delete with tombstone inside a transaction",
			cfg:  Config{Tombstones: true, TransactionTopic: "tx"},
			ops:  []capture.Op{capture.OpUpdate, capture.OpDelete},
			want: []string{"tx tx", "event cdc.main.shop.orders", "event cdc.main.shop.orders",
				"tombstone cdc.main.shop.orders", "tx tx"},
			wantN: []int{1, 1},
		},
		{
			name:  "no records without their topics",
			ops:   []capture.Op{capture.OpDelete},
			want:  []string{"event cdc.main.shop.orders"},
			wantN: []int{1},
		},
		{
			name:  "dead letter opens no transaction",
			cfg:   Config{Mapper: strict, DeadLetterTopic: "dlq", TransactionTopic: "tx"},
			ops:   []capture.Op{capture.OpUpdate},
			want:  []string{"dead-letter dlq"},
			wantN: []int{1},
		},
		{
			name:   "an output error stops the change",
			cfg:    Config{TransactionTopic: "tx"},
			ops:    []capture.Op{capture.OpUpdate},
			failAt: 2,
			want:   []string{"tx tx"},
			wantN:  []int{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Source, cfg.Connector, cfg.TopicPrefix = "main", transform.ConnectorMySQL, "cdc"
			e := New(cfg)
			r := &recorder{failAt: tt.failAt}
			for i, op := range tt.ops {
				n, err := e.Change(context.Background(), benchChange(op), now, r)
				if (err != nil) != (tt.failAt != 0) {
					t.Fatalf("change %d: err %v", i, err)
				}
				if n != tt.wantN[i] {
					t.Errorf("change %d: %d events out, want %d", i, n, tt.wantN[i])
				}
			}
			if tt.failAt == 0 {
				if err := e.Commit(now, r); err != nil {
					t.Fatal(err)
				}
				if err := e.Schema(capture.SchemaChange{Database: "shop", Statement: "ALTER TABLE orders ADD x INT"}, r); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Join(r.got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(r.got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestEncoderBuildErrorIsPermanent(t *testing.T) {
	t.Parallel()
	e := New(Config{Source: "main", Connector: transform.ConnectorMySQL})
	c := benchChange(capture.OpUpdate)
	c.EventPosition = ""
	n, err := e.Change(context.Background(), c, time.Now(), &recorder{})
	var pe *capture.PermanentError
	if n != 0 || !errors.As(err, &pe) {
		t.Errorf("Change = %d, %v; want 0 and a permanent error", n, err)
	}
}
