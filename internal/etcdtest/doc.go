// Package etcdtest runs real etcd servers in process for tests, through
// go.etcd.io/etcd/server/v3/embed, in the manner of the apiserver's
// etcd3/testserver: NewServer starts one member, NewCluster several.
//
// Every member keeps its data in a directory removed at test cleanup, runs
// with UnsafeNoFsync, logs at error level, and raises max-txn-ops and
// max-request-bytes as DESIGN.md "etcd limits" requires. Clients reach a
// member on a unix socket in a short temporary directory; members talk to
// each other on loopback TCP ports below the ephemeral range, chosen at
// random and retried if taken, so that many test processes can run side
// by side. Startup waits for readiness with a bounded timeout.
//
// Members can be stopped and restarted (on the same data and addresses) for
// failure tests, and Proxy puts go.etcd.io/etcd/pkg/v3/proxy between a
// client and a member to drop or delay traffic.
//
// Ownership: the Cluster owns its members and closes them in t.Cleanup;
// clients returned by Client are closed in t.Cleanup of the test that asked
// for them, before the cluster. Never mock clientv3: wrap it.
//
// This package is for tests only and must not be imported by non-test code.
package etcdtest
