package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Workload is what the catch-up writers committed.
type Workload struct {
	Changes  int64   `json:"changes"` // row changes (= events)
	Inserts  int64   `json:"inserts"`
	Updates  int64   `json:"updates"`
	Deletes  int64   `json:"deletes"`
	Messages int64   `json:"messages"` // events plus one tombstone per delete
	Txns     int64   `json:"transactions"`
	Seconds  float64 `json:"write_seconds"`
}

// tableSpec is one realistic table of the workload. Statements use ? and
// NOW() placeholders, rewritten per dialect.
type tableSpec struct {
	name    string
	cols    string                                  // insert column list
	row     string                                  // one VALUES tuple
	values  func(r *rand.Rand, id int64) []any      // arguments of one tuple
	update  string                                  // SET clause; the id range is appended
	updArgs func(r *rand.Rand, version int64) []any // arguments of the SET clause
}

// dialect rewrites the workload's SQL for one server.
type dialect struct {
	postgres bool
	now      string // commit-side high-resolution time
}

func (d dialect) sql(q string) string {
	q = strings.ReplaceAll(q, "NOW()", d.now)
	if !d.postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

var (
	firstNames = []string{"Zoë", "Liam", "Ana", "Mateo", "Yuki", "Olga", "Kwame", "Sofia", "Noah", "Aisha", "Jonas", "Maëlle"}
	lastNames  = []string{"Nakamura", "García", "Okafor", "Schmidt", "Novak", "Dubois", "Silva", "Kowalski", "Haddad", "Larsen"}
	cities     = []string{"Lisbon", "Osaka", "Lagos", "Hamburg", "Brno", "Lyon", "Recife", "Gdańsk", "Beirut", "Aarhus"}
	words      = strings.Fields("customer asked about invoice delivery refund upgrade contract renewal discount " +
		"shipment delayed warehouse address changed callback requested escalated resolved pending payment " +
		"card declined loyalty points premium support ticket follow-up satisfied complaint")
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// sentence is free text of about n bytes.
func sentence(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pick(r, words))
	}
	return b.String()
}

// crmTables: a CRM's customers and a call center's calls (MariaDB).
var crmTables = []tableSpec{{
	name: "customers",
	cols: "id, first_name, last_name, email, phone, street, city, postal_code, country, segment, balance, notes, version, created_at, updated_at",
	row:  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NOW(), NOW())",
	values: func(r *rand.Rand, id int64) []any {
		fn, ln := pick(r, firstNames), pick(r, lastNames)
		return []any{id, fn, ln, fmt.Sprintf("%s.%d.%d@example.com", strings.ToLower(ln), id, r.IntN(100)),
			fmt.Sprintf("+49 30 %07d", r.IntN(10000000)), fmt.Sprintf("%d %s Street", 1+r.IntN(300), pick(r, lastNames)),
			pick(r, cities), fmt.Sprintf("%05d", r.IntN(100000)), pick(r, []string{"DE", "PT", "JP", "NG", "FR", "BR"}),
			pick(r, []string{"retail", "smb", "enterprise", "vip"}), fmt.Sprintf("%d.%02d", r.IntN(100000), r.IntN(100)),
			sentence(r, 80+r.IntN(120))}
	},
	update: "balance = balance + ?, notes = ?, version = version + 1, updated_at = NOW()",
	updArgs: func(r *rand.Rand, _ int64) []any {
		return []any{fmt.Sprintf("%d.%02d", r.IntN(500), r.IntN(100)), sentence(r, 80+r.IntN(120))}
	},
}, {
	name: "calls",
	cols: "id, customer_id, agent, queue, direction, started_at, duration_s, outcome, summary, version, updated_at",
	row:  "(?, ?, ?, ?, ?, NOW(), ?, ?, ?, 1, NOW())",
	values: func(r *rand.Rand, id int64) []any {
		return []any{id, r.Int64N(1_000_000), pick(r, firstNames) + " " + pick(r, lastNames),
			pick(r, []string{"billing", "support", "sales", "retention"}), pick(r, []string{"in", "out"}),
			r.IntN(3600), pick(r, []string{"resolved", "callback", "escalated", "voicemail"}), sentence(r, 120+r.IntN(150))}
	},
	update: "duration_s = duration_s + ?, outcome = ?, summary = ?, version = version + 1, updated_at = NOW()",
	updArgs: func(r *rand.Rand, _ int64) []any {
		return []any{r.IntN(600), pick(r, []string{"resolved", "callback", "escalated"}), sentence(r, 120+r.IntN(150))}
	},
}}

// orderTables: an order system's orders and support tickets (PostgreSQL).
var orderTables = []tableSpec{{
	name: "orders",
	cols: "id, customer_id, status, currency, total, items, shipping_name, shipping_address, note, version, placed_at, updated_at",
	row:  "(?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NOW(), NOW())",
	values: func(r *rand.Rand, id int64) []any {
		return []any{id, r.Int64N(1_000_000), "placed", pick(r, []string{"EUR", "USD", "JPY", "BRL"}),
			fmt.Sprintf("%d.%02d", r.IntN(5000), r.IntN(100)), 1 + r.IntN(12),
			pick(r, firstNames) + " " + pick(r, lastNames),
			fmt.Sprintf("%d %s Street, %05d %s", 1+r.IntN(300), pick(r, lastNames), r.IntN(100000), pick(r, cities)),
			sentence(r, 60+r.IntN(120))}
	},
	update: "status = ?, total = total + ?, note = ?, version = version + 1, updated_at = NOW()",
	updArgs: func(r *rand.Rand, _ int64) []any {
		return []any{pick(r, []string{"paid", "packed", "shipped", "delivered"}),
			fmt.Sprintf("%d.%02d", r.IntN(50), r.IntN(100)), sentence(r, 60+r.IntN(120))}
	},
}, {
	name: "tickets",
	cols: "id, order_id, channel, priority, subject, body, status, version, opened_at, updated_at",
	row:  "(?, ?, ?, ?, ?, ?, ?, 1, NOW(), NOW())",
	values: func(r *rand.Rand, id int64) []any {
		return []any{id, r.Int64N(1_000_000), pick(r, []string{"phone", "email", "chat"}),
			pick(r, []string{"low", "normal", "high"}), sentence(r, 40), sentence(r, 120+r.IntN(150)), "open"}
	},
	update: "status = ?, body = ?, version = version + 1, updated_at = NOW()",
	updArgs: func(r *rand.Rand, _ int64) []any {
		return []any{pick(r, []string{"pending", "answered", "closed"}), sentence(r, 120+r.IntN(150))}
	},
}}

// liveRange is one writer's rows of one table: ids [low, next) all exist,
// because deletes take the oldest rows and inserts append.
type liveRange struct{ low, next int64 }

// writeWorkload commits transactions of mixed inserts, updates and deletes
// (by rows about 50/35/15) on `writers` connections until n row changes
// were committed. Every count comes from the servers' affected-row counts.
func writeWorkload(ctx context.Context, db *sql.DB, d dialect, tables []tableSpec, n int64, writers int, seed uint64) (Workload, error) {
	var mu sync.Mutex
	var w Workload
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	for i := 0; i < writers; i++ {
		g.Go(func() error {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			ranges := make([]liveRange, len(tables))
			for t := range ranges {
				base := int64(i+1) * 1_000_000_000
				ranges[t] = liveRange{base, base}
			}
			var mine Workload
			target := n / int64(writers)
			if i == 0 {
				target += n % int64(writers)
			}
			for mine.Changes < target {
				if err := workloadTxn(ctx, db, d, tables, ranges, r, &mine); err != nil {
					return err
				}
			}
			mu.Lock()
			w.Changes += mine.Changes
			w.Inserts += mine.Inserts
			w.Updates += mine.Updates
			w.Deletes += mine.Deletes
			w.Txns += mine.Txns
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return w, err
	}
	w.Messages = w.Changes + w.Deletes
	w.Seconds = time.Since(start).Seconds()
	return w, nil
}

// workloadTxn commits one transaction of 1–3 statements of 1–10 rows each.
func workloadTxn(ctx context.Context, db *sql.DB, d dialect, tables []tableSpec, ranges []liveRange, r *rand.Rand, w *Workload) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	staged := append([]liveRange(nil), ranges...)
	var ins, upd, del int64
	for s := 1 + r.IntN(3); s > 0; s-- {
		ti := r.IntN(len(tables))
		t, lr := tables[ti], &staged[ti]
		k := int64(1 + r.IntN(10))
		live := lr.next - lr.low
		var q string
		var args []any
		switch op := r.IntN(100); {
		case op < 50 || live < k:
			tuples := make([]string, k)
			for j := range tuples {
				tuples[j] = t.row
				args = append(args, t.values(r, lr.next+int64(j))...)
			}
			q = "INSERT INTO " + t.name + " (" + t.cols + ") VALUES " + strings.Join(tuples, ", ")
			lr.next += k
		case op < 85:
			from := lr.low + r.Int64N(live-k+1)
			q = "UPDATE " + t.name + " SET " + t.update + " WHERE id BETWEEN ? AND ?"
			args = append(t.updArgs(r, 0), from, from+k-1)
		default:
			q = "DELETE FROM " + t.name + " WHERE id BETWEEN ? AND ?"
			args = []any{lr.low, lr.low + k - 1}
			lr.low += k
		}
		res, err := tx.ExecContext(ctx, d.sql(q), args...)
		if err != nil {
			return fmt.Errorf("workload %s: %w", t.name, err)
		}
		n, _ := res.RowsAffected()
		if n != k {
			return fmt.Errorf("workload %s: %d rows affected, want %d", t.name, n, k)
		}
		switch {
		case strings.HasPrefix(q, "INSERT"):
			ins += n
		case strings.HasPrefix(q, "UPDATE"):
			upd += n
		default:
			del += n
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	copy(ranges, staged)
	w.Inserts += ins
	w.Updates += upd
	w.Deletes += del
	w.Changes += ins + upd + del
	w.Txns++
	return nil
}
