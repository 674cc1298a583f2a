package progress

import (
	"bytes"
	"testing"
)

// op is one call on a Screen: an Update when write is empty, else a Write.
type op struct {
	done, live []string
	write      string
	want       string // what the call wrote to the terminal
}

// erase is what clearing n drawn bars writes.
func erase(n int) string {
	s := "\r"
	for range n {
		s += cursorUp + clearLine
	}
	return s
}

func TestScreen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ops  []op
	}{
		{
			name: "logs pass through without bars",
			ops:  []op{{write: "log 1\n", want: "log 1\n"}, {want: ""}},
		},
		{
			name: "a log line goes above the bars",
			ops: []op{
				{live: []string{"a", "b"}, want: "a\nb\n"},
				{write: "log 1\n", want: erase(2) + "log 1\na\nb\n"},
			},
		},
		{
			name: "bars redraw in place",
			ops: []op{
				{live: []string{"a", "b"}, want: "a\nb\n"},
				{live: []string{"a2"}, want: erase(2) + "a2\n"},
				{live: []string{"a3", "b3"}, want: erase(1) + "a3\nb3\n"},
			},
		},
		{
			name: "done lines are printed once, above the bars",
			ops: []op{
				{live: []string{"a"}, want: "a\n"},
				{done: []string{"a done"}, live: []string{"b"}, want: erase(1) + "a done\nb\n"},
				{live: []string{"b2"}, want: erase(1) + "b2\n"},
			},
		},
		{
			name: "no bars left: erased, later logs plain",
			ops: []op{
				{live: []string{"a"}, want: "a\n"},
				{done: []string{"a done"}, want: erase(1) + "a done\n"},
				{write: "log 1\n", want: "log 1\n"},
				{want: ""},
			},
		},
		{
			name: "an unfinished line holds the bars back",
			ops: []op{
				{live: []string{"a"}, want: "a\n"},
				{write: "par", want: erase(1) + "par"},
				{done: []string{"x done"}, live: []string{"b"}, want: ""},
				{write: "tial\n", want: "tial\nx done\nb\n"},
				{write: "log 2\n", want: erase(1) + "log 2\nb\n"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			s := NewScreen(&out)
			for i, o := range tt.ops {
				out.Reset()
				if o.write != "" {
					n, err := s.Write([]byte(o.write))
					if n != len(o.write) || err != nil {
						t.Fatalf("op %d: Write = %d, %v; want %d, nil", i, n, err, len(o.write))
					}
				} else if err := s.Update(o.done, o.live); err != nil {
					t.Fatalf("op %d: Update: %v", i, err)
				}
				if got := out.String(); got != o.want {
					t.Errorf("op %d wrote %q, want %q", i, got, o.want)
				}
			}
		})
	}
}
