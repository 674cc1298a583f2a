package progress

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

var now = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// row is a table of source crm whose snapshot began ago before now.
func row(table string, done, total int64, ago time.Duration, finished bool) Row {
	return Row{Source: "crm", TableProgress: capture.TableProgress{
		Table: table, RowsDone: done, RowsTotal: total, Started: now.Add(-ago), Done: finished}}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rows  []Row
		width int
		want  []string
	}{
		{name: "no tables", width: 100},
		{
			name:  "running with an estimate",
			rows:  []Row{row("shop.orders", 84_000, 200_000, 10*time.Second, false)},
			width: 100,
			want:  []string{"crm shop.orders [############..................]  42% 84,000/200,000 rows  8,400 rows/s  ETA 14s"},
		},
		{
			name:  "done shows total and mean rate",
			rows:  []Row{row("shop.orders", 200_000, 190_000, 16*time.Second, true)},
			width: 100,
			want:  []string{"crm shop.orders [##############################] done 200,000 rows  12,500 rows/s"},
		},
		{
			name:  "no estimate: rows and rate, no percentage",
			rows:  []Row{row("shop.orders", 5_000, 0, 2*time.Second, false)},
			width: 100,
			want:  []string{"crm shop.orders [                              ]      5,000 rows  2,500 rows/s"},
		},
		{
			name:  "estimate below rows done counts as rows done",
			rows:  []Row{row("shop.orders", 1_500, 1_000, 3*time.Second, false)},
			width: 100,
			want:  []string{"crm shop.orders [#############################.]  99% 1,500/1,500 rows  500 rows/s"},
		},
		{
			name:  "just started: no rate, no ETA",
			rows:  []Row{row("shop.orders", 0, 100, 0, false)},
			width: 100,
			want:  []string{"crm shop.orders [..............................]   0% 0/100 rows  0 rows/s"},
		},
		{
			name: "names padded into one column",
			rows: []Row{
				row("shop.users", 10, 10, time.Second, true),
				row("shop.order_lines", 50, 100, time.Second, false),
			},
			width: 100,
			want: []string{
				"crm shop.users       [##############################] done 10 rows  10 rows/s",
				"crm shop.order_lines [###############...............]  50% 50/100 rows  50 rows/s  ETA 1s",
			},
		},
		{
			name: "sources and tables padded into columns",
			rows: []Row{
				{Source: "billing", TableProgress: row("public.invoices", 1, 2, time.Second, false).TableProgress},
				row("shop.a", 2, 2, time.Second, true),
			},
			width: 100,
			want: []string{
				"billing public.invoices [###############...............]  50% 1/2 rows  1 rows/s  ETA 1s",
				"crm     shop.a          [##############################] done 2 rows  2 rows/s",
			},
		},
		{
			name:  "bar shrinks to fit, the line fills width-1",
			rows:  []Row{row("shop.orders", 50, 100, time.Second, false)},
			width: 72,
			want:  []string{"crm shop.orders [########.........]  50% 50/100 rows  50 rows/s  ETA 1s"},
		},
		{
			name:  "narrow terminal cuts the line",
			rows:  []Row{row("shop.orders", 50, 100, time.Second, false)},
			width: 40,
			want:  []string{"crm shop.orders [#####.....]  50% 50/10"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Render(tt.rows, tt.width, now)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Render:\n got %q\nwant %q", got, tt.want)
			}
			for _, l := range got {
				if n := len([]rune(l)); n > tt.width-1 {
					t.Errorf("line of %d runes is wider than %d-1: %q", n, tt.width, l)
				}
			}
		})
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {1_234_567, "1,234,567"}, {-1234, "-1,234"},
	}
	for _, tt := range tests {
		if got := group(tt.n); got != tt.want {
			t.Errorf("group(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{100 * time.Millisecond, "1s"}, // rounded up: never ETA 0s while running
		{9 * time.Second, "9s"},
		{61 * time.Second, "1m01s"},
		{3599*time.Second + time.Millisecond, "1h00m"},
		{2*time.Hour + 3*time.Minute + 59*time.Second, "2h03m"},
	}
	for _, tt := range tests {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
