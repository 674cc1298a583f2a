package schemaregistry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const schema = `{"type":"record","name":"V","fields":[{"name":"a","type":"long"}]}`

// fakeRegistry answers registrations with status (and id 7 on 200),
// counting requests per path.
func fakeRegistry(t *testing.T, status func(n int64) int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := status(n.Add(1))
		w.WriteHeader(code)
		switch {
		case code == 200 && strings.HasPrefix(r.URL.Path, "/subjects/"):
			w.Write([]byte(`{"id":7}`))
		case code == 200:
			w.Write([]byte(`{"compatibility":"BACKWARD"}`))
		case code == 409:
			w.Write([]byte(`{"error_code":409,"message":"reader type: STRING not compatible with writer type: LONG"}`))
		default:
			w.Write([]byte(`{"error_code":` + http.StatusText(code) + `}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg, "schema_registry")
	if err != nil {
		t.Fatal(err)
	}
	c.backoff = time.Millisecond
	return c
}

func TestRegisterOncePerSchema(t *testing.T) {
	t.Parallel()
	srv, n := fakeRegistry(t, func(int64) int { return 200 })
	c := newTestClient(t, Config{URL: srv.URL, Compatibility: "backward"})
	for range 3 {
		id, err := c.Register(context.Background(), "t-value", schema)
		if err != nil || id != 7 {
			t.Fatalf("Register = %d, %v; want 7", id, err)
		}
	}
	if got := n.Load(); got != 2 { // the compatibility, then the schema
		t.Fatalf("%d requests for three registrations of one schema, want 2", got)
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Setenv("SR_TEST_PASSWORD", "hunter2-secret")
	cases := []struct {
		name      string
		status    int
		auth      BasicAuth
		permanent bool
		want      string
	}{
		{"unauthorized with credentials", 401, BasicAuth{Username: "svc", PasswordEnv: "SR_TEST_PASSWORD"}, true,
			"refused the request with the credentials of schema_registry.basic_auth (username svc): HTTP 401"},
		{"unauthorized without", 401, BasicAuth{}, true, "without credentials; set schema_registry.basic_auth"},
		{"forbidden", 403, BasicAuth{}, true, "HTTP 403"},
		{"not the ccompat api", 404, BasicAuth{}, true, "is schema_registry.url the Confluent-compatible API"},
		{"invalid schema", 422, BasicAuth{}, true, "refused it: HTTP 422"},
		{"server error", 503, BasicAuth{}, false, "failed: HTTP 503"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := fakeRegistry(t, func(int64) int { return tc.status })
			c := newTestClient(t, Config{URL: srv.URL, BasicAuth: tc.auth})
			_, err := c.Register(context.Background(), "t-value", schema)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error quotes the password: %v", err)
			}
			var perm *PermanentError
			if errors.As(err, &perm) != tc.permanent {
				t.Fatalf("permanent = %v, want %v (%v)", !tc.permanent, tc.permanent, err)
			}
			if want := map[bool]int64{true: 1, false: 4}[tc.permanent]; n.Load() != want {
				t.Fatalf("%d requests, want %d (retried only when it may help)", n.Load(), want)
			}
		})
	}
}

func TestRegisterIncompatible(t *testing.T) {
	t.Parallel()
	srv, _ := fakeRegistry(t, func(int64) int { return 409 })
	c := newTestClient(t, Config{URL: srv.URL})
	_, err := c.Register(context.Background(), "t-value", schema)
	var inc *IncompatibleError
	if !errors.As(err, &inc) || inc.Subject != "t-value" || !strings.Contains(inc.Reason, "not compatible with writer type: LONG") {
		t.Fatalf("error = %#v, want the registry's reason for subject t-value", err)
	}
}

func TestRetryRecovers(t *testing.T) {
	t.Parallel()
	srv, _ := fakeRegistry(t, func(n int64) int {
		if n < 3 {
			return 500
		}
		return 200
	})
	c := newTestClient(t, Config{URL: srv.URL})
	if id, err := c.Register(context.Background(), "t-value", schema); err != nil || id != 7 {
		t.Fatalf("Register = %d, %v; want 7 after two failures", id, err)
	}
}

func TestUnreachableIsRetryable(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, Config{URL: "http://127.0.0.1:1", Timeout: time.Second})
	_, err := c.Register(context.Background(), "t-value", schema)
	var perm *PermanentError
	if err == nil || errors.As(err, &perm) || !strings.Contains(err.Error(), "is unreachable") {
		t.Fatalf("error = %v, want a retryable 'unreachable'", err)
	}
}

func TestSubjectStrategies(t *testing.T) {
	t.Parallel()
	for strategy, want := range map[SubjectStrategy][2]string{
		"":                 {"tp-key", "tp-value"},
		SubjectTopic:       {"tp-key", "tp-value"},
		SubjectRecord:      {"ns.Key", "ns.Value"},
		SubjectTopicRecord: {"tp-ns.Key", "tp-ns.Value"},
	} {
		c := newTestClient(t, Config{URL: "http://x", SubjectStrategy: strategy})
		if k, v := c.Subject("tp", "ns.Key", true), c.Subject("tp", "ns.Value", false); k != want[0] || v != want[1] {
			t.Errorf("%q: subjects %s, %s; want %v", strategy, k, v, want)
		}
	}
}

func TestFrame(t *testing.T) {
	t.Parallel()
	msg := Frame(0x01020304, []byte{9, 8})
	if string(msg) != "\x00\x01\x02\x03\x04\x09\x08" {
		t.Fatalf("Frame = % x", msg)
	}
	id, body, err := SplitFrame(msg)
	if err != nil || id != 0x01020304 || string(body) != "\x09\x08" {
		t.Fatalf("SplitFrame = %d, % x, %v", id, body, err)
	}
	if _, _, err := SplitFrame([]byte(`{"a":1}`)); err == nil {
		t.Fatal("SplitFrame accepted JSON")
	}
}
