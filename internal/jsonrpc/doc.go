// Package jsonrpc owns OVSDB's JSON-RPC 1.0 wire format (RFC 7047 section
// 4): JSON objects sent back to back on a byte stream with no framing and
// optional whitespace between them.
//
// It provides a streaming Decoder that cuts one message at a time off an
// io.Reader while enforcing a size limit and a nesting-depth limit before
// anything is parsed (so a 64 MiB message or 10,000-deep nesting costs at
// most the limit in memory and never recursion), an Encoder, and a Client
// used by tests and tools to talk to ovsdb-server or ovsdb-etcd.
//
// Invariants: a Decoder never buffers more than its size limit plus one
// bufio buffer; every goroutine a Client starts is stopped by Close. The
// package knows nothing of OVSDB methods beyond "echo".
package jsonrpc
