package main

import (
	"fmt"
	"log/slog"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/postgres"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/toastcache"
)

// openToastCache opens the TOAST cache beside the checkpoints when a
// PostgreSQL source fills unchanged TOASTed columns (postgres.toast:
// fill, the default); nil when none does.
func openToastCache(cfg *config.Config, logger *slog.Logger) (*toastcache.DB, error) {
	for _, sc := range cfg.Sources {
		if fillsToast(sc) {
			db, err := toastcache.Open(toastcache.Dir(cfg.Checkpoints.Dir), logger)
			if err != nil {
				return nil, fmt.Errorf("sources[%s].toast fill: %w", sc.Name, err)
			}
			return db, nil
		}
	}
	return nil, nil
}

// useToastCache hands a filling PostgreSQL source its cache and counter.
func useToastCache(src capture.Source, db *toastcache.DB, name string, m *metrics.Source) error {
	ps, ok := src.(*postgres.Source)
	if !ok || db == nil || !ps.ToastFill() {
		return nil
	}
	c, err := db.Cache(name, ps.ToastCacheMaxBytes())
	if err != nil {
		src.Close()
		return err
	}
	m.UseToast()
	ps.UseToastCache(c, m.ToastUnfilled)
	return nil
}

// fillsToast reports whether sc is a PostgreSQL source with toast: fill.
func fillsToast(sc config.Source) bool {
	pc, ok := sc.Settings.(*postgres.Config)
	return ok && pc.Toast == postgres.ToastFill
}
