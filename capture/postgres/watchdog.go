package postgres

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// receiveWatchdog closes the replication connection when a receive has
// waited longer than the read timeout. The receive itself runs without a
// deadline (pgconn's deadline would also cut off the status loop's writes),
// and a half-open connection would otherwise block it forever. Time spent in
// the handler (backpressure) does not count: only waiting for the server.
type receiveWatchdog struct {
	since atomic.Int64 // unix nanos when the current receive began; 0 when not waiting
	fire  atomic.Bool
}

func (w *receiveWatchdog) waiting()    { w.since.Store(time.Now().UnixNano()) }
func (w *receiveWatchdog) received()   { w.since.Store(0) }
func (w *receiveWatchdog) fired() bool { return w.fire.Load() }

func (w *receiveWatchdog) run(ctx context.Context, conn *pgconn.PgConn, timeout time.Duration) {
	tick := time.NewTicker(max(timeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		since := w.since.Load()
		if since != 0 && time.Since(time.Unix(0, since)) > timeout {
			w.fire.Store(true)
			conn.Conn().Close() // unblocks the receive with an error
			return
		}
	}
}
