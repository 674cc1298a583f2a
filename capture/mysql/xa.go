package mysql

import (
	"context"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tributary-cdc/tributary/capture"
)

// XA transactions reach the binlog in two groups: at XA PREPARE the rows
// (XA START … XA END, closed by an XA_PREPARE_LOG_EVENT; on MariaDB the
// GTID event, flagged FL_PREPARED_XA, stands in for XA START), and later, in a
// group of its own, XA COMMIT or XA ROLLBACK. Other transactions may commit
// in between. The rows only become real at XA COMMIT, so the stream holds
// them until then and emits them in the commit's place; a rolled-back XA
// emits nothing. While any XA is prepared, Commits carry the position
// before the oldest prepare group, so a restart reads that group again
// instead of losing its rows (the transactions after it are re-sent, which
// at-least-once allows). XA COMMIT … ONE PHASE is a single group and ends
// like any transaction.

// preparedXA is an XA transaction whose prepare group the stream has read.
type preparedXA struct {
	xid     string
	hold    Position          // the boundary before its prepare group
	changes []*capture.Change // its rows, emitted at XA COMMIT
}

// xaID normalises the XID text that follows "XA START", "XA COMMIT" etc.
// so that the groups of one transaction match (the servers write the XID
// as hex literals, gtrid then bqual then format id; 'x1' as typed is
// accepted too).
func xaID(rest string) string {
	rest = strings.TrimSpace(rest)
	rest = strings.TrimSuffix(rest, ";")
	return strings.Join(strings.Fields(rest), " ")
}

// xaStatement splits "XA <VERB> <xid> [ONE PHASE]" into its verb and XID.
func xaStatement(q string) (verb, xid string, onePhase bool) {
	f := strings.Fields(stripComments(q))
	if len(f) < 2 || !strings.EqualFold(f[0], "XA") {
		return "", "", false
	}
	verb = strings.ToUpper(f[1])
	rest := f[2:]
	if n := len(rest); n >= 2 && strings.EqualFold(rest[n-2], "ONE") && strings.EqualFold(rest[n-1], "PHASE") {
		onePhase, rest = true, rest[:n-2]
	}
	if verb == "BEGIN" {
		verb = "START"
	}
	return verb, xaID(strings.Join(rest, " ")), onePhase
}

// xaQuery handles a Query event of an XA statement.
func (st *streamState) xaQuery(ctx context.Context, hdr *replication.EventHeader, q string) error {
	verb, xid, onePhase := xaStatement(q)
	switch verb {
	case "START":
		st.startXA(xid)
	case "END":
		// MariaDB's prepare group has no XA START query (its GTID event
		// opens it): XA END names the XID.
		if st.xaOpen && st.xaXID == "" {
			st.xaXID = xid
		}
	case "PREPARE":
		// Part of the prepare group; the XA_PREPARE_LOG_EVENT ends it.
	case "COMMIT":
		var changes []*capture.Change
		switch {
		case onePhase && st.xaOpen:
			changes = st.xaBuf
		default:
			p, ok := st.takePrepared(xid)
			if !ok {
				st.src.stats.xaUnseen.Add(1)
				st.src.log.Warn("XA COMMIT of a transaction prepared before the stream started; its rows were never read and are not emitted (re-snapshot the tables it changed)",
					"at", st.startOf(hdr).String(), "xid", xid)
			}
			changes = p.changes
		}
		st.endXA()
		at := st.startOf(hdr)
		for _, c := range changes {
			// The transaction happens here: it takes this group's identity.
			c.Position, c.GTID, c.TxID = st.boundary.eventString(), st.txGTID, st.txID()
			if err := st.emit(ctx, c, at); err != nil {
				return err
			}
		}
		return st.commit(ctx, hdr)
	case "ROLLBACK":
		st.takePrepared(xid)
		st.endXA()
		return st.commit(ctx, hdr)
	default:
		st.src.log.Debug("XA statement ignored", "at", st.startOf(hdr).String(), "statement", "XA "+verb)
	}
	return nil
}

// xaPrepared ends a prepare group: its rows wait for XA COMMIT.
func (st *streamState) xaPrepared(hdr *replication.EventHeader) {
	if !st.xaOpen {
		st.src.log.Warn("XA PREPARE without XA START in the stream; treated as the end of an empty group", "at", st.startOf(hdr).String())
	} else {
		st.prepared = append(st.prepared, &preparedXA{xid: st.xaXID, hold: st.boundary, changes: st.xaBuf})
	}
	st.endXA()
	st.endGroup(hdr)
}

// startXA opens an XA prepare group; xid may be "" until XA END names it.
func (st *streamState) startXA(xid string) {
	st.inTx, st.txOpen = true, true
	st.xaOpen, st.xaXID, st.xaBuf = true, xid, nil
}

func (st *streamState) endXA() { st.xaOpen, st.xaXID, st.xaBuf = false, "", nil }

func (st *streamState) takePrepared(xid string) (preparedXA, bool) {
	for i, p := range st.prepared {
		if p.xid == xid {
			st.prepared = append(st.prepared[:i:i], st.prepared[i+1:]...)
			return *p, true
		}
	}
	return preparedXA{}, false
}

// resumePos is where a restart must begin to lose nothing: the last
// boundary, or the one before the oldest prepared XA.
func (st *streamState) resumePos() Position {
	if len(st.prepared) > 0 {
		return st.prepared[0].hold
	}
	return st.boundary
}

// mariaDBPreparedXA is MariaDB's FL_PREPARED_XA GTID flag: the group is an
// XA transaction's prepare (go-mysql v1.13 has no constant for it).
const mariaDBPreparedXA = 64

// isXAPrepare reports whether ev is an XA_PREPARE_LOG_EVENT, which
// go-mysql passes on undecoded.
func isXAPrepare(hdr *replication.EventHeader) bool {
	return hdr.EventType == replication.XA_PREPARE_LOG_EVENT
}
