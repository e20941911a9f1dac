// Package listen opens the listeners of every role: "unix:PATH" or
// "host:port" for gRPC, and the unix sockets behind the frontend's punix
// remotes.
//
// Invariants: a stale socket file at PATH is replaced, any other kind of
// file is refused; closing a listener removes its socket file only while
// that file is still the one it created, so a successor started on the same
// path (a restart) keeps its socket.
package listen
