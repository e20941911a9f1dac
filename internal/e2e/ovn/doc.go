// Package ovn holds the OVN control-plane end-to-end proofs of ovsdb-etcd
// (issue 5, Proof): ovsdb-client monitor-cond-since and the _Server
// database compared with a one-member clustered ovsdb-server, resume with
// found=true across a frontend restart, one etcd watch per database, the
// OVS Python IDL, ovn-northd (single and active/standby) and a 200-client
// fan-out with a stalled reader.
//
// The package has no non-test code besides this comment; the process
// harness is internal/e2e/e2etest, shared with internal/e2e. Its TestMain
// builds cmd/ovsdb-etcd once (with -race when the tests run under -race);
// every test runs that binary, the reference ovsdb-server
// (internal/refserver) and the OVN programs as child processes in short
// temporary directories, on unix sockets and free loopback ports.
//
// Invariants: every child and every client command runs under a deadline
// and is stopped in t.Cleanup; a missing dependency (ovsdb-server,
// ovn-northd, /usr/bin/python3 with the ovs package, the OVN schemas)
// fails the test instead of skipping it.
package ovn
