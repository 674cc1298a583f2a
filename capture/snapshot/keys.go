package snapshot

import "github.com/tributary-cdc/tributary/capture"

// RowEventPosition names the snapshot row of t (table "db.table") in
// snapshot id, for its event id: by the row's own key, so a chunk read
// again after a restart gives each row the id it had — whatever rows were
// deleted or moved in between. A consumer that drops the repeated id keeps
// the first read of the key, and the stream replays every later change of
// it.
func RowEventPosition(table string, t *capture.Table, row []any, id string) string {
	pos := "snapshot:" + table + ":" + capture.KeyJSON(t, capture.KeyOf(row, t.Key))
	if id != "" {
		pos += "@" + id
	}
	return pos
}
