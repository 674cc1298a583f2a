package badgerstore

import (
	"testing"

	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/checkpoints/checkpointstest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	checkpointstest.Run(t, checkpointstest.Harness{
		Open: func(_ *testing.T, dir string, cfg checkpointstest.Config) (checkpoints.Store, error) {
			s, err := Open(dir, WithHistoryLimit(cfg.HistoryLimit), WithClock(cfg.Now), WithLogger(quiet))
			if err != nil {
				return nil, err // not a typed nil *Store in the interface
			}
			return s, nil
		},
	})
}
