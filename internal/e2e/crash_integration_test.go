package e2e

// The daemon SIGKILLed under write load, for each source kind. The broker
// is frozen around two of the kills; it is continued whatever happens.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// crashProbe checks a source's own promises while the crash test runs.
type crashProbe interface {
	// sample runs every 50ms while the daemon d runs.
	sample(t *testing.T, d *daemon)
	// killed runs after each SIGKILL, before the restart.
	killed(t *testing.T)
	// finish runs once every change was delivered; it returns a note for
	// the report.
	finish(t *testing.T) string
}

// The daemon is SIGKILLed at random moments while a writer keeps going, twice
// while the broker is frozen with events in flight. Every committed change
// must arrive, each key's changes in commit order once duplicates are
// dropped, and `tributary verify` must find the topics equal to the tables.
func TestCrashRecoveryUnderSIGKILLAndFrozenBroker(t *testing.T) {
	for _, tc := range []struct {
		kind       sourceKind
		seed       uint64    // the workload's
		pace       [2]uint64 // the kills' timing
		verifyWant string
		probe      func(t *testing.T, r *rig, cfg string) crashProbe
	}{
		{kind: mariadb, seed: 2, pace: [2]uint64{3, 4}, verifyWant: "no differences"},
		{kind: postgres, seed: 12, pace: [2]uint64{13, 14}, verifyWant: "2 tables checked, no differences", probe: newSlotProbe},
	} {
		t.Run(tc.kind.name, func(t *testing.T) {
			r := tc.kind.rig(t)
			cfg := r.writeConfig(t, r.kind.addr())
			d := startDaemon(t, "run", "-c", cfg)
			d.waitStreaming(t)
			broker := kafkaPID(t)
			defer syscall.Kill(broker, syscall.SIGCONT)
			var probe crashProbe
			if tc.probe != nil {
				probe = tc.probe(t, r, cfg)
			}
			// pause lets the load run for dur, sampling the probe meanwhile.
			pause := func(dur time.Duration) {
				if probe == nil {
					time.Sleep(dur) // the load runs meanwhile; not synchronisation
					return
				}
				for deadline := time.Now().Add(dur); time.Now().Before(deadline); {
					probe.sample(t, d)
					time.Sleep(50 * time.Millisecond)
				}
			}

			w := r.workload(2000, tc.seed)
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

			rng := rand.New(rand.NewPCG(tc.pace[0], tc.pace[1]))
			const kills = 6
			for i := 0; i < kills; i++ {
				pause(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
				frozen := i == 1 || i == 4
				if frozen {
					// Freeze the broker so produced events stay unacked in flight.
					syscall.Kill(broker, syscall.SIGSTOP)
					pause(time.Duration(500+rng.IntN(1000)) * time.Millisecond)
				}
				d.kill9(t)
				if frozen {
					syscall.Kill(broker, syscall.SIGCONT)
				}
				if probe != nil {
					probe.killed(t)
				}
				t.Logf("kill %d (broker frozen: %v) after %d changes", i+1, frozen, w.progress.Load())
				d = startDaemon(t, "run", "-c", cfg)
			}
			stopWriter()
			if err := <-writerDone; err != nil {
				t.Fatal(err)
			}
			dups := waitDelivered(t, r.c, w, 5*time.Minute)
			checkFinalState(t, r.db, w)
			var note string
			if probe != nil {
				probe.sample(t, d)
				note = probe.finish(t)
			}
			t.Logf("%d changes over %d keys survived %d SIGKILLs; %d duplicates%s", w.changes, len(w.expected), kills, dups, note)
			// The operator's accuracy check agrees: nothing missing, extra or
			// different, read back from the source.
			if out, err := runCLI(t, "verify", "-c", cfg, "--source", r.Source, "--quiet"); err != nil || !strings.Contains(out, tc.verifyWant) {
				t.Fatalf("verify after the crash test: %v\n%s", err, tail(out, 3000))
			}
			d.stop(t)
		})
	}
}

// slotProbe samples the replication slot's confirmed_flush_lsn, which must
// never be ahead of what the daemon has durably checkpointed.
//
// What is durable: the checkpoint a running daemon last committed (its
// /status checkpoint_position, recorded only after the store's commit and
// before the server is told) and, across a SIGKILL, what the store holds
// afterwards (`tributary checkpoints list`): a checkpoint committed by an
// earlier process stays durable.
type slotProbe struct {
	r       *rig
	cfg     string
	start   pglogrepl.LSN
	durable pglogrepl.LSN // the highest checkpoint known durable
	samples int
}

func newSlotProbe(t *testing.T, r *rig, cfg string) crashProbe {
	return &slotProbe{r: r, cfg: cfg, start: r.pg.confirmedFlush(t)}
}

func (p *slotProbe) raise(pos string) {
	if lsn, err := pglogrepl.ParseLSN(pos); err == nil && lsn > p.durable {
		p.durable = lsn
	}
}

func (p *slotProbe) sample(t *testing.T, d *daemon) {
	t.Helper()
	confirmed := p.r.pg.confirmedFlush(t) // sample first, then read what was durable
	if addr, ok := d.loggedAdminAddr(); ok {
		// No answer: the daemon is starting; what it resumes from is
		// already in durable.
		if sts, err := d.tryStatuses(addr); err == nil && len(sts) == 1 {
			p.raise(sts[0].CheckpointPosition)
		}
	}
	p.samples++
	if confirmed > p.durable {
		t.Fatalf("slot confirmed_flush_lsn %s is ahead of the durable checkpoint %s", confirmed, p.durable)
	}
}

func (p *slotProbe) killed(t *testing.T) {
	t.Helper()
	p.raise(committedPosition(t, p.cfg, p.r.Source))
}

func (p *slotProbe) finish(t *testing.T) string {
	t.Helper()
	testenv.Eventually(t, time.Minute, "the slot to confirm the delivered changes", func() bool {
		return p.r.pg.confirmedFlush(t) > p.start
	})
	return fmt.Sprintf("; slot sampled %d times, never ahead", p.samples)
}
