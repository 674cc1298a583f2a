package postgres

import (
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// snapshotSep separates the LSN of a position from the snapshot work
// pending there: "0/16B3748|snapshot=<snapshot.State.Encode()>".
const snapshotSep = snapshot.LegacySeparator

// ParsePosition splits a position into its LSN and the snapshot work
// pending there (nil: none).
func ParsePosition(s string) (pglogrepl.LSN, *snapshot.State, error) {
	lsnText, snap, hasSnap := strings.Cut(s, snapshotSep)
	lsn, err := pglogrepl.ParseLSN(lsnText)
	if err != nil {
		return 0, nil, fmt.Errorf("position %q: not an LSN: %w", s, err)
	}
	if !hasSnap {
		return lsn, nil, nil
	}
	st, err := snapshot.Decode(snap)
	if err != nil {
		return 0, nil, fmt.Errorf("position %q: snapshot part: %w", s, err)
	}
	return lsn, st, nil
}

// ParseResume splits a Resume into its LSN and the snapshot work pending
// there: from Snapshot, or, in a checkpoint written before positions and
// snapshot work were kept apart, from the position's snapshot part.
func ParseResume(r capture.Resume) (pglogrepl.LSN, *snapshot.State, error) {
	lsn, st, err := ParsePosition(r.Position)
	if err != nil || r.Snapshot == "" {
		return lsn, st, err
	}
	if st, err = snapshot.Decode(r.Snapshot); err != nil {
		return 0, nil, fmt.Errorf("snapshot work at %s: %w", lsn, err)
	}
	return lsn, st, nil
}

// FormatPosition writes what ParsePosition reads.
func FormatPosition(lsn pglogrepl.LSN, st *snapshot.State) string {
	if st == nil {
		return lsn.String()
	}
	return lsn.String() + snapshotSep + st.Encode()
}
