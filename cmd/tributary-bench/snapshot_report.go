package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// SnapshotReport is the initial snapshot of one fresh table of Rows rows.
// Every rate is in rows (one "r" event per row): Events is Rows.
type SnapshotReport struct {
	Table       string  `json:"table"`
	Rows        int64   `json:"rows"`
	ChunkSize   int     `json:"chunk_size"`
	LoadSeconds float64 `json:"load_seconds"`
	// RawRead is the table read in primary-key chunks of ChunkSize rows,
	// rows discarded; KafkaProduce kafka-go alone producing Rows of
	// Tributary's snapshot messages.
	RawRead      Result         `json:"raw_read"`
	KafkaProduce Result         `json:"kafka_produce"`
	Limit        float64        `json:"limit_rows_per_s"`
	LimitBy      string         `json:"limit_by"`
	Contenders   []*SnapshotRun `json:"contenders"`
	Error        string         `json:"error,omitempty"`
}

// SnapshotRun is one contender's initial snapshot, from a fresh start (no
// checkpoint, no offsets). Its Rate runs from process start to the last
// acknowledged "r" event, start-up included; FirstEventSeconds is the
// start-up part of it.
type SnapshotRun struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // Debezium's release
	Error   string `json:"error,omitempty"`
	Rate
	FirstEventSeconds float64 `json:"first_event_seconds"`
	// Messages is the count on its topic once it stopped: Rows when no row
	// was lost or sent twice.
	Messages        int64     `json:"messages"`
	Footprint       Footprint `json:"footprint"`
	VsLimit         float64   `json:"ours_vs_limit,omitempty"`
	TributaryVsThis float64   `json:"tributary_vs_this,omitempty"`
}

func (s *SnapshotReport) contender(name string) *SnapshotRun {
	for _, c := range s.Contenders {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (s *SnapshotReport) computeRatios() {
	s.Limit, s.LimitBy = limitOf(s.RawRead, s.KafkaProduce)
	trib := s.contender("tributary")
	if trib == nil || trib.Error != "" || trib.EventsPerSec <= 0 {
		return
	}
	if s.Limit > 0 {
		trib.VsLimit = trib.EventsPerSec / s.Limit
	}
	for _, c := range s.Contenders {
		if c.Name != "tributary" && c.Error == "" && c.EventsPerSec > 0 {
			c.TributaryVsThis = trib.EventsPerSec / c.EventsPerSec
		}
	}
}

func printSnapshot(w io.Writer, s *SnapshotReport) {
	fmt.Fprintf(w, "\n")
	if s.Error != "" {
		fmt.Fprintf(w, "initial snapshot of %d rows: ERROR %s\n", s.Rows, s.Error)
	}
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(t, "snapshot %d rows, chunks of %d\trows/s\tMB/s\tvs limit\ttributary/this\tfirst event s\tpeak RSS MB\tCPU s\t\n", s.Rows, s.ChunkSize)
	rateRow := func(name string, res Result) {
		if res.Error != "" || res.Events == 0 {
			fmt.Fprintf(t, "%s\t—\t—\t\t\t\t\t\t\n", name)
			return
		}
		fmt.Fprintf(t, "%s\t%.0f\t%.1f\t\t\t\t\t\t\n", name, res.EventsPerSec, res.MBPerSec)
	}
	rateRow("raw read (PK chunks)", s.RawRead)
	rateRow("kafka-go produce alone", s.KafkaProduce)
	if s.Limit > 0 {
		fmt.Fprintf(t, "physical limit (%s)\t%.0f\t\t\t\t\t\t\t\n", s.LimitBy, s.Limit)
	} else {
		fmt.Fprintf(t, "physical limit\t—\t\t\t\t\t\t\t\n")
	}
	for _, c := range s.Contenders {
		if c.Error != "" || c.Events == 0 {
			fmt.Fprintf(t, "%s\t—\t—\t\t\t\t\t\t\n", label(c.Name, c.Version))
			continue
		}
		vsLimit, vsThis := "", ""
		if c.VsLimit > 0 {
			vsLimit = fmt.Sprintf("%.2f", c.VsLimit)
		}
		if c.TributaryVsThis > 0 {
			vsThis = fmt.Sprintf("%.2fx", c.TributaryVsThis)
		}
		fmt.Fprintf(t, "%s\t%.0f\t%.1f\t%s\t%s\t%.1f\t%.0f\t%.1f\t\n", label(c.Name, c.Version), c.EventsPerSec, c.MBPerSec,
			vsLimit, vsThis, c.FirstEventSeconds, c.Footprint.PeakRSSMB, c.Footprint.CPUSeconds)
	}
	t.Flush()
	var notes []string
	for _, x := range []struct{ name, err string }{
		{"snapshot raw read", s.RawRead.Error}, {"snapshot kafka-go produce", s.KafkaProduce.Error},
	} {
		if x.err != "" {
			notes = append(notes, x.name+": "+x.err)
		}
	}
	for _, c := range s.Contenders {
		if c.Error != "" {
			notes = append(notes, c.Name+" snapshot: "+c.Error)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "   note: %s\n", strings.TrimSpace(n))
	}
}
