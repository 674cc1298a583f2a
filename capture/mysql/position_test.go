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
	for _, bad := range []string{"", "file", "file:", ":4", "file:x", "file:-1", "file:4294967296"} {
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
