// Command ovsdb-etcd is the single binary of ovsdb-etcd. It is wiring only
// (STYLE.md 1): each cobra subcommand (frontend, txnengine, monitorhub,
// all-in-one) builds its services' Config through their AddFlags, builds the
// slog logger, the prometheus registry and the OpenTelemetry tracer
// provider, then runs services/<svc>.Run under a context that SIGTERM and
// SIGINT cancel.
//
// all-in-one additionally owns an embedded single-node etcd (with
// --data-dir) whose listeners are unix sockets inside the data directory,
// so that many instances run side by side on one machine, and connects the
// three roles in process over unix-socket gRPC inside the same directory.
//
// Invariants: no package-level mutable state; every goroutine started here
// is stopped before main returns; an error that ends a role is printed once
// on stderr and makes the process exit with status 1.
//
// It must not contain OVSDB, etcd-key or protocol logic: that lives in
// services/ and internal/.
package main
