// Package e2e holds the end-to-end tests of ovsdb-etcd (issue 4, Proof):
// real OVSDB client programs (ovsdb-client, ovn-nbctl) run against a real
// ovsdb-server (internal/refserver) and against the ovsdb-etcd binary, as
// all-in-one on an embedded etcd and as three role processes on a 3-member
// etcd cluster, and their outputs are compared after normalizing UUIDs.
//
// The package has no non-test code besides this comment; its harness
// (building the binary, child processes, readiness, metrics scraping) is
// internal/e2e/e2etest, shared with internal/e2e/ovn. Its TestMain builds
// cmd/ovsdb-etcd once into a temporary directory; every test runs the
// built binary as a child process in its own short temporary directory, on unix sockets and free loopback ports, so tests never
// collide with each other or with other instances on the machine.
//
// Invariants: every test is bounded in time (each child and each client
// command runs under a deadline), every child process is stopped in
// t.Cleanup, and a missing dependency (ovsdb-server, ovsdb-client,
// ovn-nbctl, the OVN schemas) fails the test instead of skipping it.
package e2e
