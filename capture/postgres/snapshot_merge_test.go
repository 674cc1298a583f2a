package postgres

import "testing"

// A transaction the loop emitted before a chunk's watch began, but which
// the chunk's snapshot does not see, makes the chunk read again: in xip,
// and also at or past xmax (its commit streamed before it became visible,
// as with a synchronous standby that has not confirmed it).
func TestRacedWatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		xid      uint32
		seq      uint64
		snap     txSnapshot
		startSeq uint64
		want     bool
	}{
		{"visible before the watch", 100, 3, txSnapshot{xmin: 200, xmax: 210}, 5, false},
		{"in xip before the watch", 205, 3, txSnapshot{xmin: 200, xmax: 210, xip: []uint64{205}}, 5, true},
		{"at xmax before the watch", 210, 3, txSnapshot{xmin: 200, xmax: 210}, 5, true},
		{"past xmax before the watch", 215, 3, txSnapshot{xmin: 200, xmax: 210}, 5, true},
		{"invisible but after the watch (recorded)", 215, 6, txSnapshot{xmin: 200, xmax: 210}, 5, false},
	}
	for _, tt := range tests {
		st := &streamState{}
		st.ring.put(tt.xid, tt.seq)
		if got := st.racedWatch(window{snap: tt.snap, startSeq: tt.startSeq}); got != tt.want {
			t.Errorf("%s: racedWatch = %v, want %v", tt.name, got, tt.want)
		}
	}
}
