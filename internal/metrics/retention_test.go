package metrics

import "testing"

func TestSlotRetentionAndToastSeries(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	limited, unlimited := r.Source("crm"), r.Source("orders")
	r.Source("quiet") // reports nothing: no series
	limited.SetRetention(300, 700, 1000)
	unlimited.SetRetention(5, -1, -1) // max_slot_wal_keep_size = -1
	limited.UseToast()
	unlimited.ToastUnfilled(2)
	unlimited.ToastUnfilled(1)
	gather(t, r, `
# HELP tributary_slot_retained_wal_bytes WAL the PostgreSQL server retains for the source's replication slot (current WAL position minus restart_lsn).
# TYPE tributary_slot_retained_wal_bytes gauge
tributary_slot_retained_wal_bytes{source="crm"} 300
tributary_slot_retained_wal_bytes{source="orders"} 5
# HELP tributary_slot_safe_wal_bytes WAL the server may still write before max_slot_wal_keep_size lets it invalidate the slot (pg_replication_slots.safe_wal_size); absent without a limit.
# TYPE tributary_slot_safe_wal_bytes gauge
tributary_slot_safe_wal_bytes{source="crm"} 700
# HELP tributary_slot_wal_keep_max_bytes The server's max_slot_wal_keep_size in bytes; absent when unlimited (-1).
# TYPE tributary_slot_wal_keep_max_bytes gauge
tributary_slot_wal_keep_max_bytes{source="crm"} 1000
# HELP tributary_toast_unfilled_total Unchanged TOASTed columns an update carried as absent because the TOAST cache had no value for them (postgres.toast: fill; started after the row was written without a snapshot, evicted, or a replay).
# TYPE tributary_toast_unfilled_total counter
tributary_toast_unfilled_total{source="crm"} 0
tributary_toast_unfilled_total{source="orders"} 3
`, "tributary_slot_retained_wal_bytes", "tributary_slot_safe_wal_bytes", "tributary_slot_wal_keep_max_bytes", "tributary_toast_unfilled_total")
}
