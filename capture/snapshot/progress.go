package snapshot

import (
	"sync"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// Progress holds the capture.TableProgress of a source's running (or last)
// snapshot. Safe for concurrent use.
type Progress struct {
	mu     sync.Mutex
	id     string // State.ID the tables belong to
	tables []capture.TableProgress
}

// Start (re)starts the progress of table in snapshot id and returns its
// index for Add; a new id forgets the tables of an earlier snapshot. A
// table resumed by this process keeps its count; one resumed by a new
// process counts from zero.
func (p *Progress) Start(id, table string, total int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id != p.id {
		p.id, p.tables = id, nil
	}
	for i := range p.tables {
		if p.tables[i].Table == table {
			p.tables[i].RowsTotal = total
			p.tables[i].Done = false
			return i
		}
	}
	p.tables = append(p.tables, capture.TableProgress{Table: table, RowsTotal: total, Started: time.Now()})
	return len(p.tables) - 1
}

// Add counts rows emitted for the table at index i (from Start).
func (p *Progress) Add(i int, rows int, done bool) capture.TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &p.tables[i]
	t.RowsDone += int64(rows)
	t.Done = t.Done || done
	return *t
}

// Tables returns a copy of every table's progress.
func (p *Progress) Tables() []capture.TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]capture.TableProgress(nil), p.tables...)
}

// LogEvery is how often a table's snapshot progress is logged.
const LogEvery = 5 * time.Second
