// Package keys is the only code that builds and parses etcd keys, exactly
// as DESIGN.md "Keys in etcd" lays them out:
//
//	<prefix>/<service>/<db>/<table>/<uuid>            a row
//	<prefix>/<service>/<db>/_schema                   the database schema
//	<prefix>/<service>/<db>/_comments/<ts>-<n>        a transaction comment
//	<prefix>/<service>/_/_locks/<lockid>[/<waiter>]   OVSDB locks
//	<prefix>/<service>/_/_txnengine/...               txnengine election and markers
//
// Keys have no leading slash. A Layout is an immutable value built once from
// the validated --prefix and --service flags and is safe to share between
// goroutines.
//
// Invariants: OVSDB table names never start with '_' (they are ids that the
// schema package validates), so the "_schema" and "_comments" entries never
// collide with a table; the database name "_" is refused because it would
// collide with the service-wide "_" directory. Lock names are arbitrary
// strings and are escaped so that one lock's key is never a prefix of
// another's.
//
// This package does no I/O and must not import an etcd client: callers
// hand the strings to clientv3 themselves.
package keys
