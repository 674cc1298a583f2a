package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

const typesTable = `CREATE TABLE %s.types (
	id INT NOT NULL PRIMARY KEY,
	ti TINYINT, biu BIGINT UNSIGNED, bi BIGINT, d DECIMAL(10,2), dbig DECIMAL(65,30), f FLOAT, dbl DOUBLE,
	dt DATE, tm6 TIME(6), dtm6 DATETIME(6), ts6 TIMESTAMP(6) NULL, y YEAR,
	vc VARCHAR(100), tx TEXT, vb VARBINARY(10), bl BLOB,
	j JSON, e ENUM('a','b','c'), st SET('x','y','z'), b64 BIT(64)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

// The daemon's events for a row of every MySQL type, compared as JSON text:
// the encoding is the contract in docs/events.md.
func TestTypesRoundTripAsCanonicalJSON(t *testing.T) {
	s := newSetup(t)
	db, _ := prepare(t, s)
	testenv.Exec(t, db, fmt.Sprintf(typesTable, s.Database))
	topic := s.topic("types")
	createTopics(t, 1, topic)
	c := collect(t, 1, topic)
	d := startDaemon(t, "run", "-c", s.writeConfig(t, ""))
	d.waitStreaming(t)

	q := func(stmt string) string { return fmt.Sprintf(stmt, s.Database) }
	testenv.Exec(t, db,
		q(`INSERT INTO %s.types VALUES (1, -128, 18446744073709551615, -9223372036854775808, 12345678.90,
			-0.000000000000000000000000000001, 1.5, 0.1, '2024-02-29', '-838:59:59.000001',
			'2024-01-31 23:59:59.123456', '2038-01-19 03:14:07.999999', 2155,
			'héllo 😀 漢字', '', x'00ff', x'deadbeef', '{"a": [1, {"b": null}]}', 'c', 'x,z',
			b'1111111111111111111111111111111111111111111111111111111111111111')`),
		q(`INSERT INTO %s.types (id) VALUES (2)`),
		q(`UPDATE %s.types SET vc = NULL, tx = 'now set' WHERE id = 1`),
		q(`DELETE FROM %s.types WHERE id = 2`),
	)
	var got []event
	var raw [][]byte
	testenv.Eventually(t, time.Minute, "4 events for the types table", func() bool {
		got, _ = c.snapshot()
		return len(got) >= 4
	})
	raw = c.raw()
	row1 := `{"id":1,"ti":-128,"biu":18446744073709551615,"bi":-9223372036854775808,"d":"12345678.90",` +
		`"dbig":"-0.000000000000000000000000000001","f":1.5,"dbl":0.1,` +
		`"dt":"2024-02-29","tm6":"-838:59:59.000001","dtm6":"2024-01-31 23:59:59.123456",` +
		`"ts6":"2038-01-19T03:14:07.999999Z","y":2155,"vc":"héllo 😀 漢字","tx":"","vb":"AP8=","bl":"3q2+7w==",` +
		`"j":{"a": [1, {"b": null}]},"e":"c","st":["x","z"],"b64":18446744073709551615}`
	row1After := bytes.Replace([]byte(row1), []byte(`"vc":"héllo 😀 漢字","tx":""`), []byte(`"vc":null,"tx":"now set"`), 1)
	nulls := `{"id":2,"ti":null,"biu":null,"bi":null,"d":null,"dbig":null,"f":null,"dbl":null,"dt":null,"tm6":null,` +
		`"dtm6":null,"ts6":null,"y":null,"vc":null,"tx":null,"vb":null,"bl":null,"j":null,"e":null,"st":null,"b64":null}`
	want := []struct{ op, before, after string }{
		{"c", "null", row1},
		{"c", "null", nulls},
		{"u", row1, string(row1After)},
		{"d", nulls, "null"},
	}
	for i, w := range want {
		var ev struct {
			Op     string          `json:"op"`
			Key    json.RawMessage `json:"key"`
			Before json.RawMessage `json:"before"`
			After  json.RawMessage `json:"after"`
		}
		if err := json.Unmarshal(raw[i], &ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Op != w.op || string(ev.Before) != w.before || string(ev.After) != w.after {
			t.Errorf("event %d:\n got op=%s\n  before=%s\n  after=%s\nwant op=%s\n  before=%s\n  after=%s",
				i, ev.Op, ev.Before, ev.After, w.op, w.before, w.after)
		}
	}
	d.stop(t)
}
