package progress

import (
	"bytes"
	"io"
	"sync"
)

// ANSI control sequences: move the cursor one line up, clear the line.
const (
	cursorUp  = "\x1b[1A"
	clearLine = "\x1b[2K"
)

// Screen keeps a block of live lines (the bars) at the bottom of a terminal,
// below ordinary output. Everything written to the terminal while bars are
// shown must pass through the Screen — log lines through Write — or a later
// redraw erases the wrong lines. Safe for concurrent use.
type Screen struct {
	mu      sync.Mutex
	out     io.Writer
	live    []string // the bars as last updated
	drawn   int      // how many lines of live are on the terminal now
	partial bool     // a Write left the cursor inside an unfinished line
	held    []string // lines to print once that line is finished
}

// NewScreen returns a Screen drawing on out, a terminal.
func NewScreen(out io.Writer) *Screen {
	return &Screen{out: out}
}

// Write writes p, typically a log line, above the bars: it erases them,
// writes p and draws them again. A p that does not end a line leaves the
// bars off until a later Write ends it, so they never land mid-line.
func (s *Screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	s.erase(&b)
	b.Write(p)
	if len(p) > 0 {
		s.partial = p[len(p)-1] != '\n'
	}
	s.draw(&b)
	if err := s.flush(&b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Update prints done once, as ordinary output above the bars, and replaces
// the bars with live (none: the bars are erased).
func (s *Screen) Update(done, live []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	s.erase(&b)
	s.held = append(s.held, done...)
	s.live = append(s.live[:0], live...)
	s.draw(&b)
	return s.flush(&b)
}

// erase clears the drawn bars, leaving the cursor where the first one began.
func (s *Screen) erase(b *bytes.Buffer) {
	if s.drawn == 0 {
		return
	}
	b.WriteByte('\r')
	for range s.drawn {
		b.WriteString(cursorUp + clearLine)
	}
	s.drawn = 0
}

// draw writes the held lines, then the bars, unless a line is unfinished.
func (s *Screen) draw(b *bytes.Buffer) {
	if s.partial {
		return
	}
	for _, l := range s.held {
		b.WriteString(l + "\n")
	}
	s.held = s.held[:0]
	for _, l := range s.live {
		b.WriteString(l + "\n")
	}
	s.drawn = len(s.live)
}

// flush writes b in one call, so the terminal never shows the bars half
// erased or half drawn.
func (s *Screen) flush(b *bytes.Buffer) error {
	if b.Len() == 0 {
		return nil
	}
	_, err := s.out.Write(b.Bytes())
	return err
}
