// Package e2etest is the harness shared by the end-to-end test packages
// internal/e2e and internal/e2e/ovn: it builds the ovsdb-etcd binary once
// per test binary, runs it and the OVS/OVN programs as child processes, and
// gives the small helpers both packages use to drive them.
//
// It owns:
//   - Main, called from TestMain: it checks the dependencies the caller
//     names, builds cmd/ovsdb-etcd into a temporary directory (with -race
//     when the tests run under -race, so that races in the children show
//     in their output), runs the tests and then checks for leaked
//     goroutines with goleak, waiting up to etcdtest.LeakWait. Bin is the
//     built binary (or $OVSDB_ETCD_E2E_BIN).
//   - Proc, one child process: started with StartProc and always stopped
//     in t.Cleanup; its output (stdout and stderr, of every life across
//     restarts) is kept, can be waited on (WaitOutput) and is logged when
//     the test failed. At cleanup a child running the ovsdb-etcd binary
//     must exit cleanly on SIGTERM, and no child may have reported a data
//     race. Quit sends SIGQUIT so that a stuck Go child dumps its
//     goroutines.
//   - WaitServing (list_dbs readiness probe), Transact, Scrape (prometheus
//     /metrics), ShortDir (temporary directories short enough for unix
//     socket paths) and FreePort.
//
// Invariants: every wait is bounded (ReadyTimeout, StopTimeout,
// ClientTimeout, OutputTimeout); a Proc's methods are called from the test
// goroutine only, and the one goroutine a Proc starts per life ends when
// the child exits. Helpers fail the test through t instead of returning
// errors wherever a test could do nothing else.
//
// This package is for tests only and must not be imported by non-test
// code.
package e2etest
