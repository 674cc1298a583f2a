package pipeline

import (
	"slices"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// reporterSource is a fakeSource that reports snapshot progress.
type reporterSource struct {
	*fakeSource
	tables []capture.TableProgress
}

func (s *reporterSource) SnapshotProgress() []capture.TableProgress { return s.tables }

func TestSnapshotProgressFollowsTheCurrentSource(t *testing.T) {
	t.Parallel()
	tables := []capture.TableProgress{{Table: "shop.users", RowsDone: 3, RowsTotal: 10, Started: time.Now()}}
	tests := []struct {
		name string
		wrap func(*fakeSource) capture.Source
		want []capture.TableProgress
	}{
		{
			name: "reporting source",
			wrap: func(f *fakeSource) capture.Source { return &reporterSource{fakeSource: f, tables: tables} },
			want: tables,
		},
		{
			name: "source without progress",
			wrap: func(f *fakeSource) capture.Source { return f },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSource{}
			srcs := &sources{build: func(int) (capture.Source, error) { return tt.wrap(src), nil }}
			p := newPipeline(testConfig(), srcs, &sinks{}, &memStore{})
			if got := p.SnapshotProgress(); got != nil {
				t.Errorf("before Run: %v, want nil", got)
			}
			r := start(t, p)
			eventually(t, "the source streams", func() bool { _, ok := src.From(); return ok })
			if got := p.SnapshotProgress(); !slices.Equal(got, tt.want) {
				t.Errorf("while streaming: %v, want %v", got, tt.want)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if got := p.SnapshotProgress(); got != nil {
				t.Errorf("after Run: %v, want nil", got)
			}
		})
	}
}
