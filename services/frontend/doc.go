// Package frontend is the OVSDB JSON-RPC server of ovsdb-etcd: the part
// that OVSDB clients (ovn-northd, ovn-nbctl, ovsdb-client, the C and
// Python IDLs) talk to. It owns client sessions, never data.
//
// What it owns:
//   - listeners (punix, ptcp, pssl) and one session per connection: a read
//     loop that cuts messages off the stream with internal/jsonrpc's size
//     and depth limits, and a writer goroutine that drains a bounded,
//     ordered outbound queue;
//   - the methods of RFC 7047 and ovsdb-server(7) that need no state
//     outside the session (list_dbs, get_schema, echo, get_server_id,
//     set_db_change_aware, cancel, monitor, monitor_cond, monitor_cancel),
//     and transact, which it forwards to the txnengine through the
//     Transactor seam;
//   - one feed per database: a single subscription to the monitorhub
//     (the Subscriber seam), the decoded rows of the database, and the
//     fan-out of every change to the monitors of all sessions;
//   - the read-only _Server database.
//
// Invariants:
//   - Every byte written to a connection goes through its session's
//     outbound queue, so replies and notifications keep the order in which
//     they were queued. A feed queues the updates of revision R for every
//     monitor before it advertises R, and a transact reply waits (bounded)
//     until the feed of its database has advertised the commit revision,
//     so a client sees the update of its own transaction before the reply
//     (ovsdb-server's ovsdb_jsonrpc_session_send does the same).
//   - Queueing never blocks: a feed never waits on a slow client. A session
//     whose backlog passes its byte limit is closed.
//   - Lock order: feed.mu before session.outMu. Nothing else nests.
//
// It must not: write to etcd, execute OVSDB transactions itself (except
// read-only ones on _Server), or start a goroutine per update.
package frontend
