package admin

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/metrics"
)

// startServer runs a server for reg on a free loopback port until the test
// ends, and checks that Run then returns nil.
func startServer(t *testing.T, reg *metrics.Registry) *Server {
	t.Helper()
	srv := New("127.0.0.1:0", reg, nil)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		case <-time.After(shutdownTimeout + time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return srv
}

// get returns the status code and body of GET http://addr/path.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
