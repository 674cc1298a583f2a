package config

import (
	"errors"
	"fmt"
	"time"
)

// Accuracy configures a source's accuracy monitor: a consumer of the
// source's own topics keeps the digest of each key's latest delivered row
// image (internal/accuracy), and a scheduler compares the source tables
// with it, one full pass per Interval.
type Accuracy struct {
	// Enabled turns the monitor on (off by default).
	Enabled bool `yaml:"enabled"`
	// Interval is how often a full pass over every captured table starts
	// (default 6h). A pass that takes longer is reported as behind.
	Interval time.Duration `yaml:"interval"`
	// RowsPerSecond limits the source rows a pass reads (default 1000), so
	// the comparison never competes with the database's own work.
	RowsPerSecond float64 `yaml:"rows_per_second"`
	// ChunkSize is how many rows one key-ordered query reads (default 500).
	ChunkSize int `yaml:"chunk_size"`
	// Rechecks is how often a differing key is compared again, RecheckWait
	// apart, before it counts as a mismatch (default 3), so that writes in
	// flight are never reported.
	Rechecks    int           `yaml:"rechecks"`
	RecheckWait time.Duration `yaml:"recheck_wait"` // default 5s
	// StateMaxBytes bounds the source's digest state (keys and digests as
	// stored; default 1 GiB). Past it the monitor pauses; capture goes on.
	StateMaxBytes int64 `yaml:"state_max_bytes"`
}

func (a *Accuracy) defaults() {
	setDefault(&a.Interval, 6*time.Hour)
	setDefault(&a.RowsPerSecond, 1000)
	setDefault(&a.ChunkSize, 500)
	setDefault(&a.Rechecks, 3)
	setDefault(&a.RecheckWait, 5*time.Second)
	setDefault(&a.StateMaxBytes, 1<<30)
}

// validate checks the monitor's settings; key is "sources[name]".
func (a Accuracy) validate(key string, format string) error {
	if !a.Enabled {
		return nil
	}
	var errs []error
	k := key + ".accuracy"
	if a.Interval < time.Second {
		errs = append(errs, fmt.Errorf("%s.interval %s: want at least 1s", k, a.Interval))
	}
	if a.RowsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("%s.rows_per_second %g: want a positive rate", k, a.RowsPerSecond))
	}
	if a.ChunkSize < 1 {
		errs = append(errs, fmt.Errorf("%s.chunk_size %d: want at least 1", k, a.ChunkSize))
	}
	if a.Rechecks < 1 {
		errs = append(errs, fmt.Errorf("%s.rechecks %d: want at least 1, so that writes in flight are not reported", k, a.Rechecks))
	}
	if a.RecheckWait <= 0 {
		errs = append(errs, fmt.Errorf("%s.recheck_wait %s: want a positive duration", k, a.RecheckWait))
	}
	if a.StateMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("%s.state_max_bytes %d: want at least 1048576 (1 MiB)", k, a.StateMaxBytes))
	}
	if format == "debezium" {
		errs = append(errs, errors.New(k+".enabled: the monitor compares native events; a source with format debezium (or avro with avro.envelope debezium) cannot use it"))
	}
	return errors.Join(errs...)
}
