package badgerstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/checkpoints"
)

// Key layout, all per source:
//
//	c/<source>               current checkpoint (record with history bounds)
//	h/<source>\x00<seq:be64> history entry, seq increasing with each write
//
// Sources may not contain NUL, so one source's history prefix never
// contains another's.
const (
	currentPrefix = "c/"
	historyPrefix = "h/"
)

// recordVersion is the encoding version written in every value. Version 2
// keeps a checkpoint's snapshot work in a field of its own; version 1
// records (whose position may end in "|snapshot=<work>") are still read,
// and an older daemon refuses version 2 instead of dropping the work.
const recordVersion = 2

// legacySnapshotSep introduced the snapshot work inside a version 1
// record's position.
const legacySnapshotSep = "|snapshot="

// Kind says how a history entry was written.
type Kind string

const (
	// KindCommit is a checkpoint committed by the pipeline.
	KindCommit Kind = "commit"
	// KindRewind is a checkpoint set by an operator with Rewind.
	KindRewind Kind = "rewind"
)

// Entry is one history entry.
type Entry struct {
	checkpoints.Checkpoint
	Kind Kind
}

// record is the JSON value of both key kinds. HistoryFirst and HistoryNext
// are only set on current keys: history entries live at seqs
// [HistoryFirst, HistoryNext).
type record struct {
	Version      int       `json:"version"`
	Kind         Kind      `json:"kind,omitempty"`
	Position     string    `json:"position"`
	Snapshot     string    `json:"snapshot,omitempty"`
	CommitTime   time.Time `json:"commit_time"`
	SavedAt      time.Time `json:"saved_at"`
	HistoryFirst uint64    `json:"history_first,omitempty"`
	HistoryNext  uint64    `json:"history_next,omitempty"`
}

func newRecord(cp checkpoints.Checkpoint, kind Kind) record {
	return record{
		Version:    recordVersion,
		Kind:       kind,
		Position:   cp.Position,
		Snapshot:   cp.Snapshot,
		CommitTime: cp.CommitTime,
		SavedAt:    cp.SavedAt,
	}
}

func (r record) checkpoint() checkpoints.Checkpoint {
	return checkpoints.Checkpoint{Position: r.Position, Snapshot: r.Snapshot, CommitTime: r.CommitTime, SavedAt: r.SavedAt}
}

func decodeRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("decode checkpoint record: %w", err)
	}
	switch r.Version {
	case 1:
		r.Position, r.Snapshot, _ = strings.Cut(r.Position, legacySnapshotSep)
		r.Version = recordVersion
	case recordVersion:
	default:
		return record{}, fmt.Errorf("decode checkpoint record: unsupported version %d (written by a newer tributary?)", r.Version)
	}
	return r, nil
}

func validateSource(source string) error {
	if source == "" || strings.ContainsRune(source, 0) {
		return fmt.Errorf("invalid source name %q: must be non-empty without NUL bytes", source)
	}
	return nil
}

func currentKey(source string) []byte { return []byte(currentPrefix + source) }

func historyKeyPrefix(source string) []byte { return []byte(historyPrefix + source + "\x00") }

func historyKey(source string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(historyKeyPrefix(source), seq)
}

func historySeq(key []byte) uint64 { return binary.BigEndian.Uint64(key[len(key)-8:]) }
