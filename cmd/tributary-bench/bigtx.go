package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"
)

// BigTxReport is Tributary alone through one transaction of MB MiB.
type BigTxReport struct {
	MB           int       `json:"mib"`
	Rows         int64     `json:"rows"`
	WriteSeconds float64   `json:"write_seconds"`
	Seconds      float64   `json:"seconds_to_last_ack"`
	Footprint    Footprint `json:"footprint"`
	Error        string    `json:"error,omitempty"`
}

// bigTx runs Tributary through one transaction of mb MiB of rows, ids
// after firstID, and samples its memory meanwhile. Each size gets a
// process of its own: the peak RSS (VmHWM) is per process lifetime, so a
// smaller transaction after a larger one would report the larger's peak.
// committed is whether the transaction's rows are in the table, to be
// delivered (and waited for) before the next one.
func (b *sourceBench) bigTx(ctx context.Context, trib *contender, mb int, firstID int64) (rep *BigTxReport, committed bool) {
	rows := int64(mb) * 1024 // 1 KiB of payload per row
	rep = &BigTxReport{MB: mb, Rows: rows}
	progress("%s/tributary: one transaction of %d rows (%d MiB)", b.src.Name(), rows, mb)
	p, err := startProc(trib, filepath.Join(b.dir, "tributary.log"))
	if err != nil {
		rep.Error = err.Error()
		return rep, false
	}
	defer p.stop(90 * time.Second)
	// Delivered before the transaction starts, so that the footprint is
	// the transaction's: the probe rows and the earlier transactions.
	for _, w := range []struct {
		table string
		n     int64
	}{{probeTable, b.probeRows}, {"bigtx", firstID}} {
		if w.n == 0 {
			continue
		}
		if _, _, err := b.k.waitCount(ctx, w.n, 2*time.Minute, p.alive, trib.topic(w.table)); err != nil {
			rep.Error = fmt.Sprintf("draining earlier %s rows: %v", w.table, err)
			return rep, false
		}
	}
	ph := p.sampler.Begin()
	start := time.Now()
	if err := b.src.BigTx(ctx, firstID, rows); err != nil {
		rep.Error = fmt.Sprintf("writing the transaction: %v", err)
		return rep, false
	}
	rep.WriteSeconds = time.Since(start).Seconds()
	_, last, err := b.k.waitCount(ctx, firstID+rows, b.o.catchupTimeout, p.alive, trib.topic("bigtx"))
	rep.Footprint = ph.End()
	if err != nil {
		rep.Error = err.Error()
		return rep, true
	}
	rep.Seconds = last.Sub(start).Seconds()
	return rep, true
}

// printBigTxs puts the sizes side by side, one row each.
func printBigTxs(w io.Writer, bs []*BigTxReport) {
	if len(bs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n")
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(t, "one transaction, tributary\trows\tpeak RSS MB\tsteady RSS MB\tCPU s\tcommit→last ack s\twrite s\t")
	for _, b := range bs {
		if b.Error != "" {
			fmt.Fprintf(t, "%d MiB\t%d\t—\t—\t—\t—\t—\t\n", b.MB, b.Rows)
			continue
		}
		fmt.Fprintf(t, "%d MiB\t%d\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t\n", b.MB, b.Rows, b.Footprint.PeakRSSMB,
			b.Footprint.SteadyRSSMB, b.Footprint.CPUSeconds, b.Seconds, b.WriteSeconds)
	}
	t.Flush()
	for _, b := range bs {
		if b.Error != "" {
			fmt.Fprintf(w, "   note: %d MiB transaction: %s\n", b.MB, b.Error)
		}
	}
}
