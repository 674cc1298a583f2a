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
// and, optionally, the GTID set executed up to that point. On the server
// that wrote it a resume goes by File and Pos (exact, also without GTIDs);
// on another server by GTIDSet, as file offsets mean nothing there.
//
// A position can carry the identity of the server that wrote it (Server),
// so that a resume on another server (a failover, a moved address) is
// noticed and goes by GTID. A position read on another server before its
// first event names no file: it is the GTID set alone ("@0-11-57"), and
// only a GTID resume can start from it.
type Position struct {
	File    string
	Pos     uint32
	GTIDSet string
	// Server is the identity of the server whose binlog File and Pos are
	// in; zero in positions written before identities were recorded.
	Server ServerIdentity
	// Snapshot is the snapshot work still pending at this position (nil:
	// none). It travels in checkpoints so that a restart resumes every
	// table at its last emitted chunk; Compare ignores it. Never changed in
	// place: the stream loop replaces it as the snapshot moves on.
	Snapshot *snapshot.State
}

// snapshotSep introduces the snapshot part of a position string.
const snapshotSep = snapshot.LegacySeparator

// ParsePosition parses "file:pos" or "file:pos@gtidset", e.g.
// "mariadb-bin.000003:1234@0-1-55", or "@gtidset" alone, optionally
// followed by the server identity (";server_id=1;gtid_domain_id=0", see
// ServerIdentity) and by "|snapshot=<base64url JSON>" (see snapshot.State;
// the single-table form written before parallel reads is read too).
func ParsePosition(s string) (Position, error) {
	s, snap, hasSnap := strings.Cut(s, snapshotSep)
	var state *snapshot.State
	if hasSnap {
		var err error
		if state, err = snapshot.Decode(snap); err != nil {
			return Position{}, fmt.Errorf("parse binlog position %q: snapshot part: %w", s, err)
		}
	}
	s, ident, _ := strings.Cut(s, serverSep)
	server, err := parseServerIdentity(ident)
	if err != nil {
		return Position{}, fmt.Errorf("parse binlog position %q: %w", s, err)
	}
	loc, gtid, _ := strings.Cut(s, "@")
	if loc == "" && gtid != "" {
		return Position{GTIDSet: gtid, Server: server, Snapshot: state}, nil
	}
	i := strings.LastIndexByte(loc, ':')
	if i <= 0 || i == len(loc)-1 {
		return Position{}, fmt.Errorf("parse binlog position %q: want file:pos, file:pos@gtidset or @gtidset", s)
	}
	pos, err := strconv.ParseUint(loc[i+1:], 10, 32)
	if err != nil {
		return Position{}, fmt.Errorf("parse binlog position %q: offset: %w", s, err)
	}
	return Position{File: loc[:i], Pos: uint32(pos), GTIDSet: gtid, Server: server, Snapshot: state}, nil
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

// String formats p as "file:pos", "file:pos@gtidset" or "@gtidset",
// followed by the server identity and the snapshot part when p has them.
func (p Position) String() string {
	var s string
	if p.File != "" || p.GTIDSet == "" {
		s = p.File + ":" + strconv.FormatUint(uint64(p.Pos), 10)
	}
	if p.GTIDSet != "" {
		s += "@" + p.GTIDSet
	}
	if p.Server.Known() {
		s += p.Server.suffix()
	}
	if p.Snapshot != nil {
		s += snapshotSep + p.Snapshot.Encode()
	}
	return s
}

// eventString is p as events name it (source.position): without its
// server identity or snapshot work.
func (p Position) eventString() string {
	p.Server, p.Snapshot = ServerIdentity{}, nil
	return p.String()
}

// GTIDOnly reports whether p names no binlog file: only a GTID resume can
// start from it.
func (p Position) GTIDOnly() bool { return p.File == "" }

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
