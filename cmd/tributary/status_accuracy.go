package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-cdc/tributary/internal/metrics"
)

// maxStatusKeys is how many mismatching keys a table's line names.
const maxStatusKeys = 3

// formatAccuracy prints the accuracy monitors' last results, one line per
// table, after the sources; nothing when no source runs a monitor.
func formatAccuracy(w io.Writer, sts []metrics.SourceStatus, now time.Time) error {
	monitored := false
	for _, st := range sts {
		monitored = monitored || st.Accuracy != nil
	}
	if !monitored {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCURACY\tTABLE\tLAST-PASS\tTOOK\tROWS-CHECKED\tMISSING\tEXTRA\tDIFFERING\tKEYS")
	for _, st := range sts {
		a := st.Accuracy
		if a == nil {
			continue
		}
		name := st.Name
		switch {
		case a.Paused != "":
			name += " (paused: " + a.Paused + ")"
		case a.Behind:
			name += " (behind its interval)"
		}
		if len(a.Tables) == 0 {
			fmt.Fprintf(tw, "%s\t-\tno pass yet\t-\t-\t-\t-\t-\t-\n", name)
		}
		for _, t := range a.Tables {
			ago := now.Sub(t.LastPassAt).Milliseconds()
			took := t.PassDurationMs
			fmt.Fprintf(tw, "%s\t%s\t%s ago\t%s\t%d\t%d\t%d\t%d\t%s\n", name, t.Table, formatMs(&ago), formatMs(&took),
				t.RowsChecked, t.Missing, t.Extra, t.Differing, mismatchKeys(t))
		}
	}
	return tw.Flush()
}

// mismatchKeys names a few of a table's mismatching keys.
func mismatchKeys(t metrics.AccuracyTable) string {
	var keys []string
	for _, k := range [][]string{t.MissingKeys, t.ExtraKeys, t.DifferingKeys} {
		keys = append(keys, k...)
	}
	if len(keys) == 0 {
		return "-"
	}
	n := t.Missing + t.Extra + t.Differing
	if len(keys) > maxStatusKeys {
		keys = keys[:maxStatusKeys]
	}
	s := strings.Join(keys, " ")
	if int64(len(keys)) < n {
		s += fmt.Sprintf(" (+%d)", n-int64(len(keys)))
	}
	return s
}
