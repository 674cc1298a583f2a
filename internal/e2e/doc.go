// Package e2e holds end-to-end tests that run the tributary binary as a
// separate process against the real MariaDB, PostgreSQL and Kafka from
// scripts/services: ordering, crash recovery with SIGKILL and a frozen
// broker, server restarts, network cuts, snapshots and replay. Scenarios
// that both source kinds can go through are written once and run per kind
// (kinds_test.go); checks read the daemon's admin endpoint and checkpoint
// store (state_test.go) rather than its log.
package e2e
