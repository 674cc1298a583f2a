package mysql

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tributary-cdc/tributary/capture"
)

func TestEndsTransaction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q, kw string
		want  bool
	}{
		{"COMMIT", "COMMIT", true},
		{"commit;", "COMMIT", true},
		{"COMMIT WORK", "COMMIT", true},
		{"/* app */ ROLLBACK", "ROLLBACK", true},
		{"ROLLBACK TO s1", "ROLLBACK", false},
		{"ROLLBACK TO SAVEPOINT `s1`", "ROLLBACK", false},
		{"rollback work to savepoint s1", "ROLLBACK", false},
		{"ROLLBACK WORK", "ROLLBACK", true},
	}
	for _, tt := range tests {
		if got := endsTransaction(tt.q, tt.kw); got != tt.want {
			t.Errorf("endsTransaction(%q) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestXAStatement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q, verb, xid string
		onePhase     bool
	}{
		{"XA START X'7831',X'',1", "START", "X'7831',X'',1", false},
		{"XA END X'7831',X'',1", "END", "X'7831',X'',1", false},
		{"XA COMMIT X'7831',X'',1", "COMMIT", "X'7831',X'',1", false},
		{"xa commit X'7833',X'',1 one phase", "COMMIT", "X'7833',X'',1", true},
		{"XA ROLLBACK X'7832',X'',1", "ROLLBACK", "X'7832',X'',1", false},
		{"XA BEGIN 'a'", "START", "'a'", false},
		{"SELECT 1", "", "", false},
	}
	for _, tt := range tests {
		verb, xid, one := xaStatement(tt.q)
		if verb != tt.verb || xid != tt.xid || one != tt.onePhase {
			t.Errorf("xaStatement(%q) = %q %q %v, want %q %q %v", tt.q, verb, xid, one, tt.verb, tt.xid, tt.onePhase)
		}
	}
}

func TestMySQLGTIDSetTags(t *testing.T) {
	t.Parallel()
	const a, b = "3e11fa47-71ca-11e1-9e33-c80aa9429562", "4f22fa47-71ca-11e1-9e33-c80aa9429562"
	tests := []struct {
		start   string
		updates []string
		want    string
	}{
		{"", []string{a + ":1"}, a + ":1"},
		{a + ":1-5", []string{a + ":app:3", a + ":6"}, a + ":1-6:app:3"},
		{a + ":1-5:App:1-2", []string{a + ":app:3"}, a + ":1-5:app:1-3"},
		{b + ":1," + a + ":1-2:x:1:b:4", nil, a + ":1-2:b:4:x:1," + b + ":1"},
		{a + ":1-3\n," + b + ":7", []string{b + ":8"}, a + ":1-3," + b + ":7-8"},
	}
	for _, tt := range tests {
		s, err := parseMySQLGTIDSet(tt.start)
		if err != nil {
			t.Fatalf("parse %q: %v", tt.start, err)
		}
		for _, u := range tt.updates {
			if err := s.Update(u); err != nil {
				t.Fatalf("update %q: %v", u, err)
			}
		}
		if got := s.String(); got != tt.want {
			t.Errorf("%q + %q = %q, want %q", tt.start, tt.updates, got, tt.want)
		}
		back, err := parseMySQLGTIDSet(s.String())
		if err != nil || !back.Equal(s) {
			t.Errorf("%q does not read back equal: %v", s.String(), err)
		}
	}
	s, _ := parseMySQLGTIDSet(a + ":1-5:app:1-3")
	sub, _ := parseMySQLGTIDSet(a + ":2:app:3")
	other, _ := parseMySQLGTIDSet(a + ":app:4")
	if !s.Contain(sub) || s.Contain(other) {
		t.Errorf("Contain: %v %v, want true false", s.Contain(sub), s.Contain(other))
	}
	for _, bad := range []string{"nope:1", a + ":0", a + ":5-3", a + "::1"} {
		if _, err := parseMySQLGTIDSet(bad); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
}

// A value that cannot be decoded (a MySQL 8 partial JSON update) stops
// the source with table, column and position; a restart would read the
// same bytes again.
func TestUndecodableValueIsPermanent(t *testing.T) {
	t.Parallel()
	info := &tableInfo{
		table:    &capture.Table{Database: "crm", Name: "t", Columns: []capture.Column{{Name: "doc", Type: "json"}}},
		decoders: []decoder{{kind: kindJSON}},
	}
	st := &streamState{}
	_, err := st.image(info, &replication.RowsEvent{Rows: [][]any{{struct{}{}}}}, 0, Position{File: "binlog.000002", Pos: 77})
	var perm *capture.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("image error %v (%T), want a *capture.PermanentError", err, err)
	}
	for _, want := range []string{"binlog.000002:77", "crm.t", "column doc", "PARTIAL_JSON"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
