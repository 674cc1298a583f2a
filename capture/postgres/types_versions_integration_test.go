package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/transform"
)

// The types table written the same way (typesRows) on PostgreSQL 15 and on
// 18 gives byte-equal events: the same columns and types, and the same JSON
// for every key and image, streamed through pgoutput and read by ReadChunk.
// It needs both servers, whichever one the package runs against.
func TestTypesEncodeAlikeOn15And18(t *testing.T) {
	t.Parallel()
	got := map[string][]string{}
	for _, srv := range []testenv.PGServer{testenv.PG15(), testenv.PG18()} {
		got[srv.Version] = encodedTypes(t, srv)
	}
	a, b := got["15"], got["18"]
	for i := 0; i < max(len(a), len(b)); i++ {
		var la, lb string
		if i < len(a) {
			la = a[i]
		}
		if i < len(b) {
			lb = b[i]
		}
		if la != lb {
			t.Errorf("line %d differs:\n15: %s\n18: %s", i, la, lb)
		}
	}
}

// encodedTypes writes typesRows on srv and returns one line per event
// (operation, key, before and after images in JSON) and per row that
// ReadChunk reads afterwards, led by the table's columns.
func encodedTypes(t *testing.T, srv testenv.PGServer) []string {
	t.Helper()
	db, name := testDBOn(t, srv)
	testenv.Exec(t, db, typesDDL, "CREATE PUBLICATION pub_"+name+" FOR TABLE types")
	s := testSourceOn(t, srv, name, nil)
	rec := &recorder{}
	streamErr, stop := startStream(t, s, resumeAt(currentPosition(t, s)), rec)
	testenv.Exec(t, db, typesRows...)
	changes := waitChanges(t, rec, streamErr, "types", 25) // 23 inserts, 1 update, 1 delete
	stop()

	var cols []string
	for _, c := range changes[0].Table.Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	lines := []string{"columns " + strings.Join(cols, ", ")}
	encode := func(r transform.Row) string {
		b, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatalf("%s: encode: %v", srv.Name(), err)
		}
		return string(b)
	}
	for _, c := range changes {
		evs, err := transform.Build("test", transform.ConnectorPostgres, c, c.CommitTime)
		if err != nil {
			t.Fatalf("%s: build: %v", srv.Name(), err)
		}
		for _, ev := range evs {
			lines = append(lines, fmt.Sprintf("stream %s key=%s before=%s after=%s absent=%v",
				ev.Op, transform.EncodeKey(&ev), encode(ev.Before), encode(ev.After), ev.Absent))
		}
	}

	r, err := s.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tbl, rows := readAll(t, r, "public", "types", 1000)
	for _, row := range rows {
		img := make(transform.Row, len(row))
		for i, v := range row {
			img[i] = transform.Field{Name: tbl.Columns[i].Name, Value: v}
		}
		lines = append(lines, "read "+encode(img))
	}
	return lines
}
