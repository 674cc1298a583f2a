package badgerstore

import (
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DefaultHistoryLimit is the number of history entries kept per source.
const DefaultHistoryLimit = 100

// DefaultGCInterval is how often the value log garbage collector runs.
const DefaultGCInterval = time.Minute

// Option configures a Store.
type Option func(*config)

type config struct {
	historyLimit int
	gcInterval   time.Duration
	logger       *slog.Logger
	now          func() time.Time
}

func defaultConfig() config {
	return config{
		historyLimit: DefaultHistoryLimit,
		gcInterval:   DefaultGCInterval,
		logger:       slog.Default(),
		now:          time.Now,
	}
}

// WithHistoryLimit sets how many history entries are kept per source; n
// must be positive. Lowering it on an existing directory trims older entries
// on the next commit to each source.
func WithHistoryLimit(n int) Option { return func(c *config) { c.historyLimit = n } }

// WithGCInterval sets how often the value log garbage collector runs; d
// must be positive.
func WithGCInterval(d time.Duration) Option { return func(c *config) { c.gcInterval = d } }

// WithLogger sets the logger; Badger's own messages are passed on at
// warning level and above.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the clock that stamps SavedAt; it is called with the
// store's write lock held.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// badgerOptions tunes Badger for a tiny, durable, write-mostly store: a few
// small keys per source, each rewritten on every commit.
func badgerOptions(dir string, logger *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		// Commit must be durable when it returns.
		WithSyncWrites(true).
		// The defaults (64 MiB memtables, 256 MiB block cache, 1 GiB value
		// log files) are sized for large databases; the live data here is
		// kilobytes. Every memtable flush writes a level-0 table made almost
		// entirely of overwritten versions, and up to NumLevelZeroTables (5)
		// of them wait for compaction, so the memtable size sets the
		// steady-state disk usage: about 6 MiB with 1 MiB memtables.
		WithMemTableSize(1 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(1 << 20).
		WithIndexCacheSize(1 << 20).
		WithValueLogFileSize(16 << 20).
		// Keep positions (even long GTID sets) in the LSM tree, where
		// compaction drops overwritten versions; only larger values go to
		// the value log, which the GC loop reclaims. A commit writes two
		// values, and must fit in Badger's maximum batch, 15% of the
		// memtable size (150 KiB).
		WithValueThreshold(32 << 10).
		WithNumCompactors(2).
		WithNumVersionsToKeep(1).
		WithLogger(slogAdapter{logger}).
		WithLoggingLevel(badger.WARNING)
}
