package metrics

import "time"

// SourceStatus is one source's state as the admin server's /status reports
// it and `tributary status` prints it. Pointer fields are null while
// unknown (no checkpoint with a commit time yet, no lag in bytes reported).
type SourceStatus struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	Since time.Time `json:"since"` // when State was entered
	// LastError is the most recent error, kept after the source recovered.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`

	// The last checkpoint this process committed or resumed from.
	CheckpointPosition string `json:"checkpoint_position,omitempty"`
	// CheckpointSnapshot is the snapshot work pending at the checkpoint,
	// encoded (capture/snapshot.State): which tables are still read and the
	// key each has reached.
	CheckpointSnapshot   string    `json:"checkpoint_snapshot,omitempty"`
	CheckpointCommitTime time.Time `json:"checkpoint_commit_time,omitzero"` // source commit time of its last transaction
	CheckpointSavedAt    time.Time `json:"checkpoint_saved_at,omitzero"`
	CheckpointAgeMs      *int64    `json:"checkpoint_age_ms"` // now − CheckpointSavedAt
	LagMs                *int64    `json:"lag_ms"`            // now − CheckpointCommitTime
	LagBytes             *int64    `json:"lag_bytes"`

	// LastEventAt is when the daemon last read a row change from the
	// source; with a fresh lag it tells "idle" (old, lag near zero) from
	// "stuck" (old, lag growing).
	LastEventAt time.Time `json:"last_event_at,omitzero"`
	// Stalled: the server wrote past the checkpoint, but the checkpoint
	// has not moved for stall_after (nothing reaches Kafka). Not ready.
	Stalled bool `json:"stalled,omitempty"`
	// Delivering: streaming, and since this attempt began a checkpoint was
	// committed and either Kafka acked one of its messages or none waits
	// (an idle source's heartbeat commit). A restarted attempt is not
	// ready before that: entering "streaming" proves nothing while Kafka
	// is away.
	Delivering bool `json:"delivering"`

	InFlight        int64           `json:"in_flight"`
	EventsDelivered uint64          `json:"events_delivered"`
	BytesDelivered  uint64          `json:"bytes_delivered"`
	Retries         uint64          `json:"retries"`
	Errors          uint64          `json:"errors"`
	Snapshot        []TableProgress `json:"snapshot,omitempty"`
	// Accuracy is the accuracy monitor's last results; nil when it is off.
	Accuracy *AccuracyStatus `json:"accuracy,omitempty"`
}

// TableProgress is a table snapshot's progress.
type TableProgress struct {
	Table     string `json:"table"`
	RowsDone  int64  `json:"rows_done"`
	RowsTotal int64  `json:"rows_total"`
}
