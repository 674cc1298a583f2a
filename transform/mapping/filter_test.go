package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
)

const deFilter = "after.status != 'deleted' && after.country == 'DE'"

func TestFilterTransitions(t *testing.T) {
	t.Parallel()
	de := custRow(nil)
	us := custRow(map[string]any{"country": "US"})
	deleted := custRow(map[string]any{"status": "deleted"})
	minimalDE := custRow(nil) // an after image without phone and notes
	minimalDE[3], minimalDE[9] = capture.Absent, capture.Absent

	tests := []struct {
		name          string
		filter        string
		op            capture.Op
		before, after []any
		want          capture.Op // "" dropped
		wantBefore    bool       // before image present
		wantAfter     bool
	}{
		{"insert in", deFilter, capture.OpCreate, nil, de, capture.OpCreate, false, true},
		{"insert out", deFilter, capture.OpCreate, nil, us, "", false, false},
		{"snapshot read in", deFilter, capture.OpRead, nil, de, capture.OpRead, false, true},
		{"snapshot read out", deFilter, capture.OpRead, nil, us, "", false, false},
		{"delete in", deFilter, capture.OpDelete, de, nil, capture.OpDelete, true, false},
		{"delete out", deFilter, capture.OpDelete, us, nil, "", false, false},
		{"update stays in", deFilter, capture.OpUpdate, de, custRow(map[string]any{"cust_nm": "Zoe"}), capture.OpUpdate, true, true},
		{"update leaves: delete", deFilter, capture.OpUpdate, de, deleted, capture.OpDelete, true, false},
		{"update moves away: delete", deFilter, capture.OpUpdate, de, us, capture.OpDelete, true, false},
		{"update enters: create", deFilter, capture.OpUpdate, us, de, capture.OpCreate, false, true},
		{"update stays out", deFilter, capture.OpUpdate, us, deleted, "", false, false},
		{"update without before, in", deFilter, capture.OpUpdate, nil, de, capture.OpUpdate, false, true},
		{"update without before, out: delete", deFilter, capture.OpUpdate, nil, us, capture.OpDelete, false, false},
		{"op variable drops deletes", "op != 'd'", capture.OpDelete, de, nil, "", false, false},
		{"op variable keeps updates", "op != 'd'", capture.OpUpdate, de, us, capture.OpUpdate, true, true},
		{"whole image", "len(after) == 10 && 'country' in after", capture.OpCreate, nil, de, capture.OpCreate, false, true},
		// The old state is tested with before = null, so only the new state
		// compares the images: a country change leaves the stream.
		{"before in the new state", "before == nil || before.country == after.country", capture.OpUpdate, de, us, capture.OpDelete, true, false},
		{"optional before", "before?.status != 'x'", capture.OpCreate, nil, de, capture.OpCreate, false, true},
		{"integer comparison", "after.id == 42 && after.is_vip == 1", capture.OpCreate, nil, de, capture.OpCreate, false, true},
		{"absent column is nil", "after.phone == nil", capture.OpUpdate, de, minimalDE, capture.OpCreate, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustCompile(t, Config{Table: "crm.customers", Filter: tt.filter})
			ev := event(t, custTable("crm", "customers"), tt.op, tt.before, tt.after)
			out := mustApply(t, m, "crm", ev)
			if tt.want == "" {
				if len(out) != 0 {
					t.Fatalf("got %d outputs (op %s), want the row dropped", len(out), out[0].Event.Op)
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("got %d outputs, want 1", len(out))
			}
			got := out[0].Event
			if got.Op != tt.want || (got.Before != nil) != tt.wantBefore || (got.After != nil) != tt.wantAfter {
				t.Fatalf("op %s before %s after %s; want op %s, before %v, after %v",
					got.Op, rowJSON(t, got.Before), rowJSON(t, got.After), tt.want, tt.wantBefore, tt.wantAfter)
			}
			if got.ID != ev.ID || string(out[0].Key) != `{"id":42}` {
				t.Errorf("id %s key %s", got.ID, out[0].Key)
			}
			if got.Op == capture.OpDelete && got.Before != nil && rowJSON(t, got.Before) != rowJSON(t, ev.Before) {
				t.Errorf("delete's before %s, want the old image", rowJSON(t, got.Before))
			}
		})
	}
}

// TestFilterEnterFillsAbsent: a row entering the stream through an update
// is new to the consumer, so columns the source did not log take their old
// values, as in a key change.
func TestFilterEnterFillsAbsent(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers", Filter: deFilter, Rename: map[string]string{"phone": "tel"}})
	after := custRow(nil)
	after[3], after[9] = capture.Absent, capture.Absent
	ev := event(t, custTable("crm", "customers"), capture.OpUpdate, custRow(map[string]any{"country": "US"}), after)
	o := mustApply(t, m, "crm", ev)[0]
	if o.Event.Op != capture.OpCreate || !o.Event.Absent.Empty() {
		t.Fatalf("op %s absent %+v", o.Event.Op, o.Event.Absent)
	}
	want := `{"id":42,"cust_nm":"Zoë","email":"zoe@example.com","tel":"+49 170 1234567","is_vip":1,"amount":"1234.50",` +
		`"created":"2024-07-01 12:00:00.123456","status":"active","country":"DE","internal_notes":"likes cats"}`
	if got := rowJSON(t, o.Event.After); got != want {
		t.Errorf("after = %s\nwant %s", got, want)
	}
}

// TestFilterSeesSourceColumns: the filter runs first, on source names and
// values, before rename and mask.
func TestFilterSeesSourceColumns(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers",
		Filter: "after.cust_nm == 'Zoë' && after.phone == '+49 170 1234567' && after.amount == '1234.50'",
		Rename: map[string]string{"cust_nm": "name"},
		Mask:   map[string]Mask{"phone": {Kind: MaskRedact}},
		Cast:   map[string]Cast{"amount": {To: CastNumber}},
	})
	if out := mustApply(t, m, "crm", event(t, custTable("crm", "customers"), capture.OpCreate, nil, custRow(nil))); len(out) != 1 {
		t.Fatalf("%d outputs, want 1", len(out))
	}
}

func TestFilterRuntimeError(t *testing.T) {
	t.Parallel()
	m := mustCompile(t, Config{Table: "crm.customers", Filter: "int(after.cust_nm) > 1"})
	re := rowErr(t, m, event(t, custTable("crm", "customers"), capture.OpCreate, nil, custRow(nil)))
	if re.Rule != "filter" || re.Table != "crm.customers" {
		t.Fatalf("%+v", re)
	}
	if strings.Contains(re.Error(), "Zoë") || strings.Contains(string(re.Reason), "Zoë") {
		t.Errorf("the error quotes a row value: %v", re)
	}
	if errors.Unwrap(re) == nil || !strings.Contains(errors.Unwrap(re).Error(), "int(") {
		t.Errorf("Unwrap = %v, want the expression's error", errors.Unwrap(re))
	}
}

func TestFilterReadsOnlyNamedColumns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		src   string
		names string
		all   bool
	}{
		{deFilter, "status,country", false},
		{"after['status'] == 'x' || before?.id == 1", "status,id", false},
		{"len(after) > 1", "", true},
		{"op == 'c'", "", false},
		{"after.status == 'x' && 'a' in after", "status", true},
	} {
		f, err := compileFilter(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if strings.Join(f.names, ",") != tt.names || f.all != tt.all {
			t.Errorf("%s: names %v all %v, want %s %v", tt.src, f.names, f.all, tt.names, tt.all)
		}
	}
}
