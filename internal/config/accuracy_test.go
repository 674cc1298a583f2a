package config

import (
	"strings"
	"testing"
	"time"
)

func TestAccuracyDefaultsAndErrors(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(strings.Replace(minimal, "name: crm,", "name: crm, accuracy: {enabled: true},", 1)))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Sources[0].Accuracy
	if !a.Enabled || a.Interval != 6*time.Hour || a.RowsPerSecond != 1000 || a.ChunkSize != 500 ||
		a.Rechecks != 3 || a.RecheckWait != 5*time.Second || a.StateMaxBytes != 1<<30 {
		t.Fatalf("accuracy defaults: %+v", a)
	}
	off, err := Parse([]byte(minimal))
	if err != nil || off.Sources[0].Accuracy.Enabled {
		t.Fatalf("accuracy must be off by default: %+v, %v", off.Sources[0].Accuracy, err)
	}
	cases := []struct{ accuracy, want string }{
		{"{enabled: true, interval: 10ms}", "sources[crm].accuracy.interval 10ms: want at least 1s"},
		{"{enabled: true, rows_per_second: -1}", "sources[crm].accuracy.rows_per_second"},
		{"{enabled: true, chunk_size: -5}", "sources[crm].accuracy.chunk_size"},
		{"{enabled: true, rechecks: -1}", "sources[crm].accuracy.rechecks"},
		{"{enabled: true, state_max_bytes: 1000}", "sources[crm].accuracy.state_max_bytes 1000"},
		{"{enabled: true, intervall: 1h}", "sources[crm].accuracy.intervall (line 5) is not a known key; did you mean sources[crm].accuracy.interval?"},
		{"{enabled: true}, format: debezium", "sources[crm].accuracy.enabled: the monitor compares native events"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(strings.Replace(minimal, "name: crm,", "name: crm, accuracy: "+tc.accuracy+",", 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("accuracy %s: error = %v, want it to contain %q", tc.accuracy, err, tc.want)
		}
	}
}
