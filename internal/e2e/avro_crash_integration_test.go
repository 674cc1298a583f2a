package e2e

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The SIGKILL crash test with format avro (MariaDB, without the broker
// freezes, which the JSON test covers): every committed change arrives,
// each key's changes in commit order once duplicates are dropped, the state
// rebuilt through the registry's schemas equals the table, and verify reads
// the Avro topics back as equal.
func TestAvroCrashRecoveryUnderSIGKILL(t *testing.T) {
	url := testenv.RegistryURL(t)
	r := mariadb.rig(t)
	reg, err := schemaregistry.New(schemaregistry.Config{URL: url}, "schema_registry")
	if err != nil {
		t.Fatal(err)
	}
	r.c.decodeAvroWith(func(v []byte) ([]byte, error) { return reg.CanonicalJSON(context.Background(), v) })
	cfg := r.writeConfigWith(t, "", r.source(r.kind.addr(), 5*time.Second)+"    format: avro\n")
	prependConfig(t, cfg, avroRegistryBlock(url))
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)

	w := r.workload(500, 22)
	ctx, stopWriter := context.WithCancel(context.Background())
	writerDone := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if _, err := w.txn(context.Background()); err != nil {
				writerDone <- err
				return
			}
		}
		writerDone <- nil
	}()
	rng := rand.New(rand.NewPCG(23, 24))
	const kills = 3
	for i := 0; i < kills; i++ {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond) // the load runs meanwhile; not synchronisation
		d.kill9(t)
		t.Logf("kill %d after %d changes", i+1, w.progress.Load())
		d = startDaemon(t, "run", "-c", cfg)
	}
	stopWriter()
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	dups := waitDelivered(t, r.c, w, 3*time.Minute)
	checkFinalState(t, r.db, w)
	t.Logf("%d changes over %d keys survived %d SIGKILLs as Avro; %d duplicates", w.changes, len(w.expected), kills, dups)
	if out, err := runCLI(t, "verify", "-c", cfg, "--source", r.Source, "--quiet"); err != nil || !strings.Contains(out, "no differences") {
		t.Fatalf("verify after the crash test: %v\n%s", err, tail(out, 3000))
	}
	d.stop(t)
}
