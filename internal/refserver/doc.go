// Package refserver starts the real ovsdb-server from the Debian
// openvswitch-common package for tests, so that ovsdb-etcd's behaviour can
// be compared with the reference implementation in the same test run.
//
// It owns one ovsdb-server process per Server: database files created with
// ovsdb-tool (standalone, or a one-member cluster with create-cluster) in a
// test temporary directory, a punix: remote, and the server's log. The
// process is stopped in t.Cleanup and its log is printed when the test
// failed.
//
// A missing binary fails the test with the command that installs it; this
// package never skips, so that a CI machine without ovsdb-server cannot
// pass the differential tests vacuously.
package refserver
