package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/encode"
)

// image is one message a source row becomes, reduced to what a comparison
// needs: the state key it files under and its after image.
type image struct {
	table, key, topic string
	after             json.RawMessage
}

// imager encodes source rows as the daemon delivers them: with the same
// encoder (build, the table's mapping, native JSON), as snapshot rows. A
// mapped table is therefore compared after its mapping: renamed, masked,
// cast, dropped and added columns, routed topics and mapped keys, and rows
// a filter or the dead-letter rule keeps out of the topic are expected to
// be absent from it.
type imager struct {
	enc  *encode.Encoder
	outs []encode.Out
	n    int
}

func newImager(cfg encode.Config) *imager {
	cfg.Debezium = nil        // compared on the native image (Options.Encode)
	cfg.TransactionTopic = "" // no side records
	cfg.SchemaChangeTopic = ""
	return &imager{enc: encode.New(cfg)}
}

// Emit collects the encoder's messages (encode.Output).
func (im *imager) Emit(o encode.Out) error {
	if o.Kind == encode.KindEvent {
		im.outs = append(im.outs, o)
	}
	return nil
}

// images returns the images of row, a row of tbl as the table reader read it.
func (im *imager) images(ctx context.Context, tbl *capture.Table, row []any) ([]image, error) {
	im.n++
	im.outs = im.outs[:0]
	c := &capture.Change{
		Op: capture.OpRead, Table: tbl, After: row, Snapshot: true,
		EventPosition: "verify", RowIndex: im.n, Position: "verify",
	}
	if _, err := im.enc.Change(ctx, c, time.Time{}, im); err != nil {
		return nil, fmt.Errorf("encode row %s: %w", strconv.Itoa(im.n), err)
	}
	imgs := make([]image, 0, len(im.outs))
	for _, o := range im.outs {
		var ev event
		if err := json.Unmarshal(o.Value, &ev); err != nil {
			return nil, fmt.Errorf("decode encoded row: %w", err)
		}
		imgs = append(imgs, image{table: ev.table(), key: string(o.Key), topic: o.Topic, after: ev.After})
	}
	return imgs, nil
}

// topic is the table's topic without a mapping.
func (im *imager) topic(db, table string) string { return im.enc.Topic(db, table) }
