package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const adminTokenEnv = "TRIBUTARY_TEST_ADMIN_TOKEN"

// withAdmin rewrites the admin section of a config written by
// setup.writeConfig into a file of its own and returns that file's path.
func withAdmin(t *testing.T, path, name, adminYAML string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const def = `admin: {addr: "127.0.0.1:0"}`
	if !strings.Contains(string(b), def) {
		t.Fatalf("%s has no %s line to replace", path, def)
	}
	out := filepath.Join(filepath.Dir(path), name)
	if err := os.WriteFile(out, []byte(strings.Replace(string(b), def, "admin: "+adminYAML, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// adminRequest sends method url with the bearer token tok ("" for none)
// and returns the status code, the WWW-Authenticate header and the body.
func adminRequest(t *testing.T, method, u, tok string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// With admin.auth the daemon asks for the token on POST /snapshot, /status
// and pprof, keeps the probes and /metrics open, `tributary status` sends
// the token from the config, and the token never shows in any output. An
// unauthenticated bind beyond loopback, or a token variable that is not
// set, stops the start naming the key.
func TestAdminBearerTokenIntegration(t *testing.T) {
	s := newSetup(t)
	prepare(t, s)
	raw := make([]byte, 16)
	rand.Read(raw)
	token := "adm-" + hex.EncodeToString(raw)
	env := []string{adminTokenEnv + "=" + token}
	base := s.writeConfig(t, "")
	cfg := withAdmin(t, base, "auth.yaml", `{addr: "127.0.0.1:0", auth: {bearer_token_env: `+adminTokenEnv+`}}`)
	var outputs []string // every process's output, searched for the token at the end

	d := startDaemonEnv(t, env, "run", "-c", cfg)
	d.waitStreaming(t)
	addr := d.adminAddr(t)
	snapshotURL := "http://" + addr + "/snapshot?" + url.Values{"source": {s.Source}, "table": {s.Database + ".t1"}}.Encode()

	for _, c := range []struct {
		method, path, tok string
		code              int
	}{
		{"POST", "", "", http.StatusUnauthorized},
		{"POST", "", "wrong-" + token, http.StatusUnauthorized},
		{"GET", "/debug/pprof/", "", http.StatusUnauthorized},
		{"GET", "/status", "", http.StatusUnauthorized},
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/readyz", "", http.StatusOK},
		{"GET", "/metrics", "", http.StatusOK},
		{"GET", "/debug/pprof/", token, http.StatusOK},
		{"POST", "", token, http.StatusAccepted},
	} {
		u := "http://" + addr + c.path
		if c.path == "" {
			u = snapshotURL
		}
		code, challenge, body := adminRequest(t, c.method, u, c.tok)
		if code != c.code {
			t.Errorf("%s %s (token %v): %d %s, want %d", c.method, u, c.tok != "", code, body, c.code)
		}
		if code == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer") {
			t.Errorf("%s %s: 401 with WWW-Authenticate %q", c.method, u, challenge)
		}
		if strings.Contains(body, token) {
			t.Errorf("%s %s: the answer holds the token", c.method, u)
		}
	}

	st := startDaemonEnv(t, env, "status", "-c", cfg, "--addr", addr)
	<-st.waited
	outputs = append(outputs, st.logs.String())
	if out := st.logs.String(); st.err != nil || !strings.Contains(out, s.Source) || !strings.Contains(out, "streaming") {
		t.Errorf("tributary status with the token: %v\n%s", st.err, out)
	}
	out, err := runCLI(t, "status", "--addr", addr)
	outputs = append(outputs, out)
	if err == nil || !strings.Contains(out, "requires a bearer token (401 Unauthorized)") {
		t.Errorf("tributary status without the token: %v\n%s", err, out)
	}
	d.stop(t)
	outputs = append(outputs, d.logs.String())

	// Started without the variable: the start stops, naming the key.
	out, err = runCLI(t, "run", "-c", cfg)
	outputs = append(outputs, out)
	if err == nil || !strings.Contains(out, "admin.auth.bearer_token_env: environment variable "+adminTokenEnv+" is not set") {
		t.Errorf("run without %s: %v\n%s", adminTokenEnv, err, out)
	}

	open := withAdmin(t, base, "open.yaml", `{addr: "0.0.0.0:0"}`)
	const refused = `admin.addr "0.0.0.0:0" listens beyond loopback without admin.auth`
	for _, cmd := range []string{"run", "validate"} {
		out, err := runCLI(t, cmd, "-c", open)
		outputs = append(outputs, out)
		// Refused at start: the output is all there is to check.
		if err == nil || !strings.Contains(out, refused) || strings.Contains(out, "msg=streaming") {
			t.Errorf("%s with an unauthenticated 0.0.0.0: %v, want it refused with %q:\n%s", cmd, err, refused, out)
		}
	}

	for i, o := range outputs {
		if strings.Contains(o, token) {
			t.Errorf("output %d holds the admin token:\n%s", i, o)
		}
	}
}
