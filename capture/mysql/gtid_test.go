package mysql

import (
	"fmt"
	"strings"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

func TestMissingGTIDsMariaDB(t *testing.T) {
	t.Parallel()
	tests := []struct {
		checkpoint, have, want string
	}{
		{"0-11-50", "0-11-50", ""},
		{"0-11-50", "0-11-50,0-12-61", ""}, // the promoted server wrote on in the domain
		{"0-11-40,0-12-50", "0-11-40,0-12-50", ""},
		{"0-11-50", "0-11-45", "domain 0 sequence numbers 46-50 of server_id 11 (the checkpoint has 0-11-50, the server's binlog server_id 11's up to 0-11-45)"},
		// The same sequence number written by another server: diverged.
		{"0-11-23", "0-11-22,0-12-23", "domain 0 sequence numbers 23-23 of server_id 11 (the checkpoint has 0-11-23, the server's binlog server_id 11's up to 0-11-22)"},
		{"0-11-50,1-3-7", "0-11-50", "domain 1 sequence numbers 1-7 of server_id 3 (the checkpoint has 1-3-7, the server's binlog none of server_id 3's in the domain)"},
		{"", "0-1-1", ""},
	}
	for _, tt := range tests {
		got, err := missingMariaDB(tt.checkpoint, tt.have)
		if err != nil || got != tt.want {
			t.Errorf("missingMariaDB(%q, %q) = %q, %v; want %q", tt.checkpoint, tt.have, got, err, tt.want)
		}
	}
	if _, err := missingMariaDB("0-x-1", ""); err == nil {
		t.Error("a bad set: no error")
	}
}

func TestMissingGTIDsMySQL(t *testing.T) {
	t.Parallel()
	const u, v = "3e11fa47-71ca-11e1-9e33-c80aa9429562", "4e11fa47-71ca-11e1-9e33-c80aa9429562"
	tests := []struct {
		checkpoint, have, want string
	}{
		{u + ":1-10", u + ":1-12", ""},
		{u + ":1-10", u + ":1-4:6-8", u + ":5:9-10"},
		{u + ":1-10," + v + ":1-3", u + ":1-10", v + ":1-3"},
		{u + ":1-3:tag:1-2", u + ":1-3", u + ":tag:1-2"},
	}
	for _, tt := range tests {
		got, err := missingMySQL(tt.checkpoint, tt.have)
		if err != nil || got != tt.want {
			t.Errorf("missingMySQL(%q, %q) = %q, %v; want %q", tt.checkpoint, tt.have, got, err, tt.want)
		}
	}
}

func TestSubtractIntervals(t *testing.T) {
	t.Parallel()
	iv := func(pairs ...int64) gmysql.IntervalSlice {
		var s gmysql.IntervalSlice
		for i := 0; i < len(pairs); i += 2 {
			s = append(s, gmysql.Interval{Start: pairs[i], Stop: pairs[i+1]})
		}
		return s
	}
	tests := []struct {
		a, b, want gmysql.IntervalSlice
	}{
		{iv(1, 11), nil, iv(1, 11)},
		{iv(1, 11), iv(1, 11), nil},
		{iv(1, 11), iv(3, 5), iv(1, 3, 5, 11)},
		{iv(1, 11), iv(0, 2, 9, 20), iv(2, 9)},
		{iv(1, 3, 5, 8), iv(2, 6), iv(1, 2, 6, 8)},
	}
	for _, tt := range tests {
		got := subtractIntervals(tt.a, tt.b)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%v - %v = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDumpGTIDSet(t *testing.T) {
	t.Parallel()
	maria := &Source{cfg: Config{Flavor: FlavorMariaDB}}
	gs, err := maria.dumpGTIDSet("0-11-40,0-12-57,1-3-9")
	if err != nil || gs.String() != "0-12-57,1-3-9" {
		t.Errorf("MariaDB dump set = %v, %v; want one GTID per domain, the last", gs, err)
	}
	my := &Source{cfg: Config{Flavor: FlavorMySQL}}
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	if gs, err := my.dumpGTIDSet(u + ":1-5:7"); err != nil || gs.String() != u+":1-5:7" {
		t.Errorf("MySQL dump set = %v, %v", gs, err)
	} else if _, ok := gs.(*gmysql.MysqlGTIDSet); !ok {
		t.Errorf("MySQL dump set is a %T; go-mysql's syncer needs a *MysqlGTIDSet", gs)
	}
	if _, err := my.dumpGTIDSet(u + ":1-5:tag:1"); err == nil || !strings.Contains(err.Error(), "tagged") {
		t.Errorf("a tagged set: %v; want a refusal naming tags", err)
	}
}
