package encode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/sink"
)

// txMeta follows the source transaction whose events are being emitted, for
// the transaction metadata topic. A transaction opens with its first
// emitted event (so one whose rows were all filtered out leaves no trace)
// and closes at the source's Commit. It lives as long as one Encoder (one
// pipeline attempt): a restart re-reads an unfinished transaction and opens
// it again, so consumers see BEGIN (and events) twice, never an END without
// a BEGIN.
type txMeta struct {
	open    bool
	id      string
	events  int
	counts  []dataCollection        // in order of first event
	byTable map[capture.TableID]int // → index into counts
}

// dataCollection is one table's share of a transaction's events.
type dataCollection struct {
	Name   string `json:"data_collection"`
	Events int    `json:"event_count"`
}

// txRecord is the value written to the transaction metadata topic; the
// field order is the JSON order.
type txRecord struct {
	Status          string           `json:"status"` // BEGIN or END
	ID              string           `json:"id"`
	Source          string           `json:"source"`
	TsMs            int64            `json:"ts_ms"`
	EventCount      int              `json:"event_count,omitempty"`      // END only
	DataCollections []dataCollection `json:"data_collections,omitempty"` // END only
}

// schemaRecord is the value written to the schema-change topic.
type schemaRecord struct {
	Source   string `json:"source"`
	Database string `json:"database"`
	DDL      string `json:"ddl"`
	Position string `json:"position"`
	TsMs     int64  `json:"ts_ms"`
}

// txID names c's transaction: the source's transaction id, or, when the
// source has none, the transaction's resumable position, which is just as
// unique within one source.
func txID(c *capture.Change) string {
	if c.TxID != "" {
		return c.TxID
	}
	return c.Position
}

// txEvent counts one event message of c's transaction, writing BEGIN first
// when it is the transaction's first. Call it before the event is emitted,
// so that BEGIN precedes the events in the output's sequence.
func (e *Encoder) txEvent(c *capture.Change, out Output) error {
	if e.cfg.TransactionTopic == "" {
		return nil
	}
	t := &e.tx
	id := txID(c)
	if t.open && t.id != id {
		// Every source ends a transaction with a Commit; should one not,
		// close the old transaction rather than merge two into one.
		if err := e.Commit(c.CommitTime, out); err != nil {
			return err
		}
	}
	if !t.open {
		t.open, t.id, t.events, t.counts = true, id, 0, t.counts[:0]
		clear(t.byTable)
		if err := e.txRecord(txRecord{Status: "BEGIN", ID: id, Source: e.cfg.Source, TsMs: unixMs(c.CommitTime)}, out); err != nil {
			return err
		}
	}
	k := c.Table.ID()
	i, ok := t.byTable[k]
	if !ok {
		if t.byTable == nil {
			t.byTable = map[capture.TableID]int{}
		}
		i = len(t.counts)
		t.byTable[k] = i
		t.counts = append(t.counts, dataCollection{Name: k.String()})
	}
	t.counts[i].Events++
	t.events++
	return nil
}

// Commit passes the END record of the open transaction, if any, to out
// and closes it. Call it at the source's Commit, before the boundary is
// recorded, so that the checkpoint waits for END too.
func (e *Encoder) Commit(commitTime time.Time, out Output) error {
	t := &e.tx
	if e.cfg.TransactionTopic == "" || !t.open {
		return nil
	}
	t.open = false
	return e.txRecord(txRecord{Status: "END", ID: t.id, Source: e.cfg.Source, TsMs: unixMs(commitTime),
		EventCount: t.events, DataCollections: t.counts}, out)
}

func (e *Encoder) txRecord(r txRecord, out Output) error {
	value, err := marshalRecord(r)
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode transaction %s record %s: %w", r.Status, r.ID, err)}
	}
	key, err := marshalRecord(struct {
		ID string `json:"id"`
	}{r.ID})
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode transaction key %s: %w", r.ID, err)}
	}
	return out.Emit(Out{Kind: KindTransaction, Message: sink.Message{Topic: e.cfg.TransactionTopic, Key: key, Value: value,
		Describe: "transaction " + r.ID + " " + r.Status}})
}

// Schema passes the record of s to out, when there is a schema-change
// topic.
func (e *Encoder) Schema(s capture.SchemaChange, out Output) error {
	if e.avro != nil {
		e.avro.lastDDL[s.Database] = s.Statement
	}
	if e.cfg.SchemaChangeTopic == "" {
		return nil
	}
	value, err := marshalRecord(schemaRecord{Source: e.cfg.Source, Database: s.Database, DDL: s.Statement,
		Position: s.Position, TsMs: unixMs(s.CommitTime)})
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode schema change at %s: %w", s.Position, err)}
	}
	key, err := marshalRecord(struct {
		Database string `json:"database"`
	}{s.Database})
	if err != nil {
		return &capture.PermanentError{Err: fmt.Errorf("encode schema change key at %s: %w", s.Position, err)}
	}
	return out.Emit(Out{Kind: KindSchema, Message: sink.Message{Topic: e.cfg.SchemaChangeTopic, Key: key, Value: value,
		Describe: "schema change in " + s.Database + " at " + s.Position}})
}

// marshalRecord is compact JSON without HTML escaping, like the events:
// names and statements keep <, > and & as they are.
func marshalRecord(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// unixMs is t in Unix milliseconds, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
