// Package monitorhub is the pipeline stage that turns etcd into a stream of
// OVSDB changes grouped by etcd revision (DESIGN.md "monitorhub").
//
// It owns, per database of one <prefix>/<service>:
//
//   - exactly one etcd watch on the whole-database prefix
//     (<prefix>/<service>/<db>/), whatever the number of subscribers; the
//     ovsdb_etcd_monitorhub_etcd_watches gauge counts them;
//   - the current rows, as the raw JSON values etcd holds (rows are never
//     parsed here);
//   - a bounded window of history: one immutable Update per etcd revision
//     that changed a row, shared by every subscriber.
//
// Invariants:
//
//   - An Update is the complete set of row changes of one etcd revision and
//     is never split: etcd delivers the events of one revision in one watch
//     response (mvcc watchableStore batches whole revisions unless the
//     watcher asked for fragments, which the hub never does).
//   - A subscriber sees each revision at most once, in order, with no gap:
//     after a watch error, a leader change or a closed watch the hub
//     re-watches from the last revision it applied plus one; when that
//     revision was compacted it re-reads the database and publishes the
//     difference as one Update (a "resync"), after which resuming from a
//     revision inside the unseen range needs a snapshot.
//   - The watch loop of a database is its only writer. It never waits on a
//     subscriber: it appends to the history and pokes each subscriber's
//     wake channel without blocking. Each subscriber's own goroutine (the
//     gRPC handler) copies what it has not sent yet and sends it, so a slow
//     subscriber only delays itself. A subscriber that lets too many
//     updates pile up after it had caught up is closed with a resumable
//     ResourceExhausted error; one whose resume point left the history
//     window is closed with OutOfRange and gets a snapshot on resume.
//
// History across restarts: a starting hub reads each database as it was
// HistoryRebuildRevisions revisions ago (or at etcd's compaction) and
// replays the watch from there, so a frontend that resumes after a hub
// restart still finds its revision in the history. A database is served
// once that replay reaches its newest key.
//
// The package must not parse rows, write to etcd, or build keys other than
// through the layout helpers in keys.go.
//
// Client (client.go) is the frontend side of the stream: it delivers
// snapshots, updates and progress in revision order and transparently
// resumes from the last revision it delivered after a stream error or a
// hub restart.
package monitorhub
