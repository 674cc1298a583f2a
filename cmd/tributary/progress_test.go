package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

func TestNewProgressScreen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode    string
		want    bool // a screen, i.e. bars drawn
		wantErr error
	}{
		{mode: "auto"}, // a buffer is no terminal
		{mode: "never"},
		{mode: "always", want: true},
		{mode: "sometimes", wantErr: errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			s, err := newProgressScreen(tt.mode, &bytes.Buffer{})
			if !errors.Is(err, tt.wantErr) || (s != nil) != tt.want {
				t.Errorf("newProgressScreen(%q) = %v, %v; want screen %v, error %v", tt.mode, s, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestRunRejectsBadProgressMode(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := run([]string{"run", "--progress", "yes"}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("exit %d, want 2; stderr %q", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--progress must be auto, always or never") {
		t.Errorf("stderr %q does not name the flag", stderr.String())
	}
}

// fakeReporter is a source reporting fixed snapshot progress.
type fakeReporter []capture.TableProgress

func (f fakeReporter) SnapshotProgress() []capture.TableProgress { return f }

func TestStartProgressDrawsEverySource(t *testing.T) {
	t.Parallel()
	started := time.Now().Add(-time.Second)
	sources := []capture.SnapshotReporter{
		fakeReporter{{Table: "shop.orders", RowsDone: 10, RowsTotal: 100, Started: started}},
		fakeReporter(nil), // between attempts
		fakeReporter{{Table: "public.users", RowsDone: 7, RowsTotal: 7, Started: started, Done: true}},
	}
	var out bytes.Buffer
	bars, err := newProgressScreen("always", &out)
	if err != nil {
		t.Fatal(err)
	}
	startProgress(bars, &out, []string{"crm", "idle", "billing"}, sources)() // one poll, then stop
	got := out.String()
	for _, want := range []string{"crm     shop.orders  [", "] done 7 rows", "billing public.users ["} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
	if !strings.HasSuffix(got, "\x1b[1A\x1b[2K") {
		t.Errorf("the running table's bar was not erased on stop:\n%q", got)
	}
}
