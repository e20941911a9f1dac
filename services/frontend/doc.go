// Package frontend is the OVSDB JSON-RPC server of ovsdb-etcd: the part
// that OVSDB clients (ovn-northd, ovn-nbctl, ovsdb-client, the C and
// Python IDLs) talk to. It owns client sessions, never data.
//
// What it owns:
//   - listeners (punix, ptcp, pssl) and one session per connection: a read
//     loop that cuts messages off the stream with internal/jsonrpc's size
//     and depth limits, and a writer goroutine that drains an ordered,
//     non-blocking outbound queue (queue.go);
//   - the methods of RFC 7047 and ovsdb-server(7): list_dbs, get_schema,
//     transact (forwarded to the txnengine through the Transactor seam),
//     cancel, echo, get_server_id, set_db_change_aware, monitor,
//     monitor_cond, monitor_cond_since, monitor_cond_change,
//     monitor_cancel, lock, steal and unlock, with ovsdb-server 3.1's
//     replies and error texts (compared in tests with the real server);
//   - one feed per database: a single subscription to the monitorhub
//     (the Subscriber seam), the rows and a ring of recent revisions for
//     monitor_cond_since, both kept as the JSON stored in etcd and decoded
//     only for monitors (only tables some monitor selects), and the
//     fan-out of every change to the monitors of all sessions, each
//     distinct selection rendered once;
//   - the read-only _Server database, kept current from the feeds;
//   - OVSDB locks: per frontend, or cluster-wide in etcd under this
//     frontend's lease when Deps.Etcd is set.
//
// Invariants:
//   - Every byte written to a connection goes through its session's
//     outbound queue, so replies and notifications keep the order in which
//     they were queued. A feed queues the updates of revision R for every
//     monitor before it advertises R, and a transact reply waits (bounded)
//     until the feed of its database has advertised the commit revision,
//     so a client sees the update of its own transaction before the reply
//     (ovsdb-server's ovsdb_jsonrpc_session_send does the same).
//   - A new monitor's initial state includes every transaction
//     acknowledged before its request arrived: the request first waits
//     (bounded) for the feed to reach the highest revision this frontend
//     acknowledged on that database and, with Deps.Etcd, etcd's revision
//     at that moment (catchup.go).
//   - Queueing never blocks: a feed never waits on a slow client. A
//     session with more than LagBacklogBytes unsent is not read from, and
//     its monitors' updates are merged per row until it catches up; past
//     MaxBacklogBytes it is closed.
//   - Lock order: serverDB.mu, then feed.mu, then a lock manager's mu,
//     then a session's outMu; a session's mu is never held while taking
//     another lock.
//
// It must not: write rows to etcd, execute OVSDB transactions itself
// (except read-only ones on _Server), or start a goroutine per update.
package frontend
