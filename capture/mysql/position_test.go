package mysql

import "testing"

func TestParseFormatPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Position
	}{
		{"mariadb-bin.000003:1234", Position{File: "mariadb-bin.000003", Pos: 1234}},
		{"mariadb-bin.000003:1234@0-1-55", Position{File: "mariadb-bin.000003", Pos: 1234, GTIDSet: "0-1-55"}},
		{"mariadb-bin.000003:4@0-1-55,1-2-3", Position{File: "mariadb-bin.000003", Pos: 4, GTIDSet: "0-1-55,1-2-3"}},
		{"binlog.000001:157@3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", Position{File: "binlog.000001", Pos: 157, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}},
		// With the identity of the server that wrote it, and GTID-only
		// (read on another server before its first event).
		{"mariadb-bin.000003:1234@0-11-55;server_id=11;gtid_domain_id=0",
			Position{File: "mariadb-bin.000003", Pos: 1234, GTIDSet: "0-11-55", Server: ServerIdentity{ServerID: 11, Domain: "0"}}},
		{"binlog.000001:157@3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5;server_id=3;server_uuid=3e11fa47-71ca-11e1-9e33-c80aa9429562",
			Position{File: "binlog.000001", Pos: 157, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", Server: ServerIdentity{ServerID: 3, UUID: "3e11fa47-71ca-11e1-9e33-c80aa9429562"}}},
		{"@0-11-55,1-2-3;server_id=12;gtid_domain_id=0", Position{GTIDSet: "0-11-55,1-2-3", Server: ServerIdentity{ServerID: 12, Domain: "0"}}},
		{"@0-11-55", Position{GTIDSet: "0-11-55"}},
	}
	for _, tt := range tests {
		got, err := ParsePosition(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if s := FormatPosition(got); s != tt.in {
			t.Errorf("FormatPosition(%+v) = %q, want %q", got, s, tt.in)
		}
	}
	for _, bad := range []string{"", "file", "file:", ":4", "file:x", "file:-1", "file:4294967296", "@", "f:4;server_id=x", "f:4;serverid=1"} {
		if _, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q): no error", bad)
		}
	}
}

func TestPositionCompare(t *testing.T) {
	t.Parallel()
	p := func(s string) Position { q, _ := ParsePosition(s); return q }
	tests := []struct {
		a, b string
		want int
	}{
		{"b.000001:4", "b.000001:4@0-1-1", 0},
		{"b.000001:4", "b.000001:100", -1},
		{"b.000002:4", "b.000001:100", 1},
		{"b.999999:4", "b.1000000:4", -1},
	}
	for _, tt := range tests {
		if got := p(tt.a).Compare(p(tt.b)); got != tt.want {
			t.Errorf("%s vs %s = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestPositionEventStringDropsIdentity(t *testing.T) {
	t.Parallel()
	p, err := ParsePosition("b.000001:4@0-1-1;server_id=1;gtid_domain_id=0")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.eventString(); got != "b.000001:4@0-1-1" {
		t.Errorf("eventString = %q", got)
	}
}

func TestServerIdentitySame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b ServerIdentity
		want bool
	}{
		{ServerIdentity{ServerID: 11, Domain: "0"}, ServerIdentity{ServerID: 11, Domain: "1"}, true},
		{ServerIdentity{ServerID: 11}, ServerIdentity{ServerID: 12}, false},
		{ServerIdentity{ServerID: 1, UUID: "A"}, ServerIdentity{ServerID: 1, UUID: "b"}, false},
		{ServerIdentity{ServerID: 1, UUID: "a"}, ServerIdentity{ServerID: 2, UUID: "A"}, true},
	}
	for _, tt := range tests {
		if got := tt.a.Same(tt.b); got != tt.want {
			t.Errorf("%v.Same(%v) = %v", tt.a, tt.b, got)
		}
	}
}

func TestRegisteredPositionCompareAcrossServers(t *testing.T) {
	t.Parallel()
	parse := func(s string) registeredPosition {
		p, err := ParsePosition(s)
		if err != nil {
			t.Fatal(err)
		}
		return registeredPosition{p}
	}
	tests := []struct {
		a, b string
		want int
		bad  bool
	}{
		// Same server: file and offset, whatever the GTIDs say.
		{a: "b.000002:4@0-11-5;server_id=11", b: "b.000001:900@0-11-9;server_id=11", want: 1},
		// Different servers: by GTID set.
		{a: "b.000009:4@0-11-5;server_id=11", b: "b.000001:900@0-11-5,0-12-7;server_id=12", want: -1},
		{a: "@0-11-9", b: "b.000001:4@0-11-9;server_id=12", want: 0},
		{a: "@u:1-5", b: "@u:1-3", bad: true}, // not a UUID
		{a: "@3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", b: "@3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3:7", bad: true},
		{a: "@3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", b: "@3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3", want: 1},
		{a: "b.000001:4;server_id=11", b: "b.000001:4;server_id=12", bad: true},
	}
	for _, tt := range tests {
		got, err := parse(tt.a).Compare(parse(tt.b))
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("%s vs %s = %d, %v; want %d (error %v)", tt.a, tt.b, got, err, tt.want, tt.bad)
		}
	}
}
