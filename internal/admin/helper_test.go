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
func startServer(t *testing.T, reg *metrics.Registry, opts ...Option) *Server {
	t.Helper()
	return serve(t, New("127.0.0.1:0", reg, nil, opts...))
}

// serve runs srv until the test ends, and checks that Run then returns nil.
func serve(t *testing.T, srv *Server) *Server {
	t.Helper()
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

// call sends method url with `Authorization: <auth>` unless auth is empty,
// and returns the status code, the headers and the body.
func call(t *testing.T, c *http.Client, method, url, auth string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// token is a WithBearerToken source that always returns tok.
func token(tok string) func() (string, error) {
	return func() (string, error) { return tok, nil }
}
