// Package e2e holds end-to-end tests that run the tributary binary as a
// separate process against the real MariaDB and Kafka from scripts/services:
// ordering, crash recovery with SIGKILL and a frozen broker, and replay.
package e2e
