package testenv

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// RegistryAddr is the schema registry's HTTP address (Apicurio Registry,
// started by scripts/services), and RegistryManagementAddr its management
// port, where readiness is.
func RegistryAddr() string { return "127.0.0.1:" + env("TRIBUTARY_REGISTRY_PORT", "18081") }
func RegistryManagementAddr() string {
	return "127.0.0.1:" + env("TRIBUTARY_REGISTRY_MANAGEMENT_PORT", "18082")
}

// RegistryURL is the base URL of the registry's Confluent-compatible API.
// It fails the test, naming the registry, unless the registry reports
// ready. Apicurio's ids are global across subjects and its storage is in
// memory, so tests use unique subjects (UniqueName topics) and never assume
// an id's value.
func RegistryURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ready := "http://" + RegistryManagementAddr() + "/health/ready"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ready, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the schema registry is not reachable at %s (%v): start it with `scripts/services up registry` (make test does)", ready, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the schema registry at %s is not ready (%s): see .services/registry/registry.log, or restart it with `scripts/services stop registry && scripts/services up registry`", ready, resp.Status)
	}
	return "http://" + RegistryAddr() + "/apis/ccompat/v7"
}
