// Command ovsdb-bench measures ovsdb-server and ovsdb-etcd side by side on
// the same work, as issue 6 asks.
//
// It starts each system itself on loopback and unix sockets in a temporary
// directory (ovsdb-server standalone, a 3-member ovsdb-server Raft cluster,
// ovsdb-etcd all-in-one, ovsdb-etcd as three role processes on a 3-member
// etcd cluster, and that etcd cluster alone as the floor), runs each
// scenario against a fresh instance, and prints one markdown table with a
// column per system, ratio columns and the targets.
//
// The load speaks raw OVSDB JSON-RPC (internal/jsonrpc), so every OVSDB
// system gets byte-for-byte the same requests. Writers insert
// Logical_Switch_Port rows named "b<writer>-<seq>-<row>" and add them to a
// Logical_Switch of their own; watchers hold monitor_cond_since (or
// monitor_cond when the server lacks it) on Logical_Switch_Port and record
// when each transaction's rows arrive.
//
// Invariants: a scenario reports numbers only if, at its end, every watcher
// saw every acknowledged transaction exactly once, whole in one update, and
// in each writer's commit order, and the server holds exactly the
// acknowledged rows; otherwise it reports FAIL and the tool exits non-zero.
// Every process the tool starts is stopped before it exits, and every
// goroutine it starts is waited for.
//
// The hidden subcommand "ovsdb-bench etcd-member" runs one embedded etcd
// member (there is no etcd binary on the machine); the tool spawns three of
// them for the 3-member cluster.
package main
