package metrics

// accuracyMetrics are the accuracy monitor's series, named as issue 15
// names them. The monitor is built on another branch; until it registers
// them, the alert rules and the dashboard may query them.
var accuracyMetrics = []string{
	"tributary_accuracy_rows_checked_total",
	"tributary_accuracy_mismatches",
	"tributary_accuracy_last_pass_timestamp_seconds",
	"tributary_accuracy_pass_duration_seconds",
}
