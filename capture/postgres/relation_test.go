package postgres

import (
	"testing"

	"github.com/tributary-cdc/tributary/capture"
)

func TestRelationChangeIsReportedOnlyWhenTheDefinitionDiffers(t *testing.T) {
	t.Parallel()
	rel := func(name string, cols ...capture.Column) *relation {
		return &relation{captured: true, table: &capture.Table{Database: "public", Name: name, Columns: cols}}
	}
	id, v, note := capture.Column{Name: "id", Type: "int4"}, capture.Column{Name: "v", Type: "int4"}, capture.Column{Name: "note", Type: "varchar"}
	tests := []struct {
		name     string
		old, new *relation
		want     bool
	}{
		{"same columns (resent after an unrelated invalidation)", rel("t1", id, v), rel("t1", id, v), false},
		{"column added", rel("t1", id, v), rel("t1", id, v, note), true},
		{"column dropped", rel("t1", id, v, note), rel("t1", id, note), true},
		{"type changed", rel("t1", id, v), rel("t1", id, capture.Column{Name: "v", Type: "int8"}), true},
		{"renamed", rel("t1", id, v), rel("t9", id, v), true},
		{"now captured", &relation{}, rel("t1", id), true},
		{"not captured", rel("t1", id), &relation{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.new.changedFrom(tt.old); got != tt.want {
				t.Errorf("changedFrom = %v, want %v", got, tt.want)
			}
		})
	}
	got := describeRelation(rel("t1", id, v, note, capture.Column{Name: "tags", Type: "text[]"}).table)
	if want := "RELATION public.t1 (id int4, v int4, note varchar, tags text[])"; got != want {
		t.Errorf("describeRelation = %q, want %q", got, want)
	}
}
