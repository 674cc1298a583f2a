package mysql

import (
	"context"
	"testing"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// Text in character sets other than UTF-8 reaches the binlog in those
// bytes; the binlog path must turn it into the same UTF-8 the server sends
// the snapshot path.
func TestNonUTF8TextConvertedLikeSelect(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE cs (id INT PRIMARY KEY,"+
		" l1 VARCHAR(20) CHARACTER SET latin1, l1c CHAR(6) CHARACTER SET latin1, l1t TEXT CHARACTER SET latin1,"+
		" l2 VARCHAR(20) CHARACTER SET latin2, cyr VARCHAR(20) CHARACTER SET cp1251, koi VARCHAR(20) CHARACTER SET koi8r,"+
		" gb VARCHAR(20) CHARACTER SET gbk, sj VARCHAR(20) CHARACTER SET sjis, kr VARCHAR(20) CHARACTER SET euckr,"+
		" u2 VARCHAR(20) CHARACTER SET ucs2, u16 VARCHAR(20) CHARACTER SET utf16, a VARCHAR(20) CHARACTER SET ascii,"+
		" u8 VARCHAR(20) CHARACTER SET utf8mb4) DEFAULT CHARSET=utf8mb4")
	s := testSource(t, name, nil)
	rec, streamErr := startStream(t, s, resumeAt(serverPosition(t, db)))
	testenv.Exec(t, db,
		"SET NAMES utf8mb4",
		`INSERT INTO cs VALUES (1, 'Zoë Müller €', 'çà ', 'naïve café — “quoted”', 'Łódź żółć', 'Привет', 'Привет',
			'中文字符', '日本語テキスト', '한국어', 'Ωmega ☃', 'emoji 😀', 'plain', 'emoji 😀')`,
		"INSERT INTO cs (id) VALUES (2)",
		"UPDATE cs SET l1 = 'Ä' WHERE id = 2")
	waitChanges(t, rec, streamErr, "cs", 3)

	r, err := s.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tbl, rows, err := r.ReadChunk(context.Background(), name, "cs", nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := latestAfter(t, rec.changesFor("cs"))
	if len(rows) != 2 {
		t.Fatalf("read %d rows", len(rows))
	}
	for _, row := range rows {
		k := rowKey(t, tbl, row)
		if got, binlog := afterJSON(t, tbl, row), afterJSON(t, tbl, want[k]); got != binlog {
			t.Errorf("row %s:\nselect %s\nbinlog %s", k, got, binlog)
		}
	}
	first := rec.changesFor("cs")[0].After
	for i, w := range []any{"Zoë Müller €", "çà", "naïve café — “quoted”", "Łódź żółć", "Привет", "Привет", "中文字符", "日本語テキスト", "한국어", "Ωmega ☃", "emoji 😀", "plain", "emoji 😀"} {
		if first[i+1] != w {
			t.Errorf("binlog column %s = %q, want %q", tbl.Columns[i+1].Name, first[i+1], w)
		}
	}
}
