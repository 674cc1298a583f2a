package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+path, "", nil)
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

func TestSnapshotRequest(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	if code, _ := post(t, srv.Addr(), "/snapshot?source=a&table=d.t"); code != http.StatusNotFound {
		t.Errorf("without a callback: %d, want 404", code)
	}
	var gotSource string
	var gotTables []string
	srv.OnSnapshot(func(source string, tables []string) error {
		switch source {
		case "gone":
			return fmt.Errorf("%w: %q", ErrUnknownSource, source)
		case "busy":
			return fmt.Errorf("%w: backing off", ErrUnavailable)
		case "pg":
			return fmt.Errorf("%w: snapshots of PostgreSQL sources are not supported yet", ErrInvalid)
		case "broken":
			return errors.New("connection refused")
		}
		gotSource, gotTables = source, tables
		return nil
	})
	code, body := post(t, srv.Addr(), "/snapshot?source=crm&table=crm.a&table=crm.b,crm.c")
	if code != http.StatusAccepted {
		t.Fatalf("accepted: %d %s", code, body)
	}
	var acc SnapshotAccepted
	if err := json.Unmarshal([]byte(body), &acc); err != nil || acc.Source != "crm" || len(acc.Tables) != 3 {
		t.Errorf("body %s (%v)", body, err)
	}
	if gotSource != "crm" || strings.Join(gotTables, " ") != "crm.a crm.b crm.c" {
		t.Errorf("callback got %q %q", gotSource, gotTables)
	}
	for _, c := range []struct {
		query string
		code  int
		text  string
	}{
		{"source=crm", http.StatusBadRequest, "want ?source"},
		{"table=crm.a", http.StatusBadRequest, "want ?source"},
		{"source=gone&table=x.y", http.StatusNotFound, "unknown source"},
		{"source=busy&table=x.y", http.StatusConflict, "backing off"},
		{"source=pg&table=x.y", http.StatusBadRequest, "PostgreSQL"},
		{"source=broken&table=x.y", http.StatusInternalServerError, "connection refused"},
	} {
		code, body := post(t, srv.Addr(), "/snapshot?"+c.query)
		var e errorBody
		if code != c.code || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, c.text) {
			t.Errorf("%s: %d %s, want %d with %q", c.query, code, body, c.code, c.text)
		}
	}
	if code, _ := get(t, srv.Addr(), "/snapshot?source=crm&table=crm.a"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /snapshot: %d, want 405", code)
	}
}
