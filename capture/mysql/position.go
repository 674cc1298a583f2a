package mysql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// Position is a place in a server's binary log: a file, a byte offset in it
// and, optionally, the GTID set executed up to that point. Only File and Pos
// are used to resume; GTIDSet is carried so that a later switch to GTID-based
// resumption (or an operator) can see where the stream was.
type Position struct {
	File    string
	Pos     uint32
	GTIDSet string
	// Snapshot is the snapshot work still pending at this position (nil:
	// none). It travels in checkpoints so that a restart resumes every
	// table at its last emitted chunk; Compare ignores it. Never changed in
	// place: the stream loop replaces it as the snapshot moves on.
	Snapshot *snapshot.State
}

// snapshotSep introduces the snapshot part of a position string.
const snapshotSep = snapshot.LegacySeparator

// ParsePosition parses "file:pos" or "file:pos@gtidset", e.g.
// "mariadb-bin.000003:1234@0-1-55", optionally followed by
// "|snapshot=<base64url JSON>" (see snapshot.State; the single-table form
// written before parallel reads is read too).
func ParsePosition(s string) (Position, error) {
	s, snap, hasSnap := strings.Cut(s, snapshotSep)
	var state *snapshot.State
	if hasSnap {
		var err error
		if state, err = snapshot.Decode(snap); err != nil {
			return Position{}, fmt.Errorf("parse binlog position %q: snapshot part: %w", s, err)
		}
	}
	loc, gtid, _ := strings.Cut(s, "@")
	i := strings.LastIndexByte(loc, ':')
	if i <= 0 || i == len(loc)-1 {
		return Position{}, fmt.Errorf("parse binlog position %q: want file:pos or file:pos@gtidset", s)
	}
	pos, err := strconv.ParseUint(loc[i+1:], 10, 32)
	if err != nil {
		return Position{}, fmt.Errorf("parse binlog position %q: offset: %w", s, err)
	}
	return Position{File: loc[:i], Pos: uint32(pos), GTIDSet: gtid, Snapshot: state}, nil
}

// ParseResume parses a Resume: its position, and the snapshot work pending
// there (from Snapshot, or, in a checkpoint written before positions and
// snapshot work were kept apart, from the position's snapshot part).
func ParseResume(r capture.Resume) (Position, error) {
	p, err := ParsePosition(r.Position)
	if err != nil || r.Snapshot == "" {
		return p, err
	}
	if p.Snapshot, err = snapshot.Decode(r.Snapshot); err != nil {
		return Position{}, fmt.Errorf("snapshot work at binlog position %s: %w", p, err)
	}
	return p, nil
}

// Resume splits p into the position and the snapshot work a Commit or a
// checkpoint keeps apart.
func (p Position) Resume() capture.Resume {
	var r capture.Resume
	if p.Snapshot != nil {
		r.Snapshot = p.Snapshot.Encode()
		p.Snapshot = nil
	}
	r.Position = p.String()
	return r
}

// commitAt is the Commit of a transaction (or of snapshot progress) ending at
// p, committed at t.
func commitAt(p Position, t time.Time) capture.Commit {
	r := p.Resume()
	return capture.Commit{Position: r.Position, Snapshot: r.Snapshot, CommitTime: t}
}

// FormatPosition is the inverse of ParsePosition.
func FormatPosition(p Position) string { return p.String() }

// String formats p as "file:pos" or "file:pos@gtidset", followed by the
// snapshot part when p has one.
func (p Position) String() string {
	s := p.File + ":" + strconv.FormatUint(uint64(p.Pos), 10)
	if p.GTIDSet != "" {
		s += "@" + p.GTIDSet
	}
	if p.Snapshot != nil {
		s += snapshotSep + p.Snapshot.Encode()
	}
	return s
}

// Compare orders positions by file (binlog file names sort by their numeric
// suffix) then offset; it ignores GTIDSet. It returns -1, 0 or +1.
func (p Position) Compare(q Position) int {
	if p.File != q.File {
		pb, ps := splitLogName(p.File)
		qb, qs := splitLogName(q.File)
		if pb == qb && ps != qs {
			if ps < qs {
				return -1
			}
			return 1
		}
		return strings.Compare(p.File, q.File)
	}
	switch {
	case p.Pos < q.Pos:
		return -1
	case p.Pos > q.Pos:
		return 1
	}
	return 0
}

// splitLogName splits "mariadb-bin.000003" into its base and sequence number
// (the sequence can outgrow its zero-padded width, so compare it as a number).
func splitLogName(name string) (string, uint64) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, 0
	}
	n, err := strconv.ParseUint(name[i+1:], 10, 64)
	if err != nil {
		return name, 0
	}
	return name[:i], n
}
