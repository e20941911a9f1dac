package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/e2e/e2etest"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
)

// badInputTimeout bounds the wait for the server's answer (an error reply
// or a closed connection) to one piece of bad input.
const badInputTimeout = 20 * time.Second

// TestBadInputNeverCrashes sends garbage, truncated JSON, a 64 MiB message,
// 10,000-deep nesting, wrong types in every op and a client vanishing
// mid-request over the punix socket. Each gets an error reply or a closed
// connection within a bounded time; the server keeps running and keeps
// serving a well-behaved client connected throughout.
func TestBadInputNeverCrashes(t *testing.T) {
	a := startAllInOne(t, []string{nbSchema})
	sockPath := strings.TrimPrefix(a.Addr(), "unix:")

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	good, err := jsonrpc.Dial(ctx, a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()

	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	huge := func(w io.Writer) error {
		if _, err := io.WriteString(w, `{"id":1,"method":"echo","params":["`); err != nil {
			return err
		}
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, `"]}`)
		return err
	}
	wrongOps := []string{
		`{"op":1}`, `{"op":"insert"}`, `{"op":"insert","table":5,"row":{}}`, `{"op":"insert","table":"Logical_Switch","row":[]}`,
		`{"op":"select","table":"Logical_Switch","where":"x"}`, `{"op":"select","table":"Logical_Switch","where":[[1,2,3]]}`,
		`{"op":"update","table":"Logical_Switch","where":[],"row":{"name":5}}`, `{"op":"mutate","table":"Logical_Switch","where":[],"mutations":[["name","+=",1]]}`,
		`{"op":"delete","table":"Logical_Switch","where":{}}`, `{"op":"wait","table":"Logical_Switch","where":[],"columns":"x","until":"==","rows":[]}`,
		`{"op":"commit","durable":"yes"}`, `{"op":"abort","x":1}`, `{"op":"comment","comment":5}`, `{"op":"assert","lock":[]}`,
		`{"op":"insert","table":"Logical_Switch","row":{"ports":["set",[["uuid","not-a-uuid"]]]}}`,
	}
	cases := []struct {
		name string
		// send writes the bad input; closeWrite then half-closes the
		// connection (a truncated message must not wait forever).
		send       func(w io.Writer) error
		closeWrite bool
		// vanish closes the connection right after sending, without
		// reading: the server must cope with a client that is gone.
		vanish bool
		// wantReplies > 0: read that many replies, each an error, then
		// close (the requests are valid JSON-RPC, so the session lives).
		wantReplies int
	}{
		{name: "garbage", send: writeString("\x00\xff\xfe garbage }{ \x01\x02"), closeWrite: true},
		{name: "not an object", send: writeString(`[1,2,3] "str" 42 `), closeWrite: true},
		{name: "truncated JSON", send: writeString(`{"id":1,"method":"transact","params":["OVN_Northbound",{"op":"insert","table":"Logi`), closeWrite: true},
		{name: "64 MiB message", send: huge, closeWrite: true},
		{name: "10000-deep nesting", send: writeString(`{"id":1,"method":"echo","params":` + deep + `}`), closeWrite: true},
		{name: "wrong param types", send: writeString(`{"id":1,"method":"transact","params":{"a":1}}{"id":2,"method":"monitor","params":[1,2,3]}{"id":3,"method":"get_schema","params":[[]]}{"id":4,"method":5,"params":[]}`), closeWrite: true},
		{name: "wrong types in every op", send: func(w io.Writer) error {
			var b strings.Builder
			for i, op := range wrongOps {
				b.WriteString(`{"id":` + strconv.Itoa(i+1) + `,"method":"transact","params":["OVN_Northbound",` + op + `]}`)
			}
			_, err := io.WriteString(w, b.String())
			return err
		}, wantReplies: len(wrongOps)},
		{name: "vanish mid-request", send: writeString(`{"id":1,"method":"transact","params":["OVN_Northbound",{"op":"insert","table":"Logical_Switch","row":{"name":"vanish"}}]}{"id":2,"method":"list_dbs","par`), vanish: true},
		{name: "vanish before reply", send: writeString(`{"id":1,"method":"transact","params":["OVN_Northbound",{"op":"wait","table":"Logical_Switch","timeout":5000,"where":[["name","==","nobody"]],"columns":["name"],"until":"==","rows":[{"name":"x"}]}]}`), vanish: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("unix", sockPath, badInputTimeout)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(badInputTimeout))
			// Read concurrently: the server may answer (or close) before
			// the whole input is written.
			replies := make(chan answer, 1)
			go func() {
				if tc.wantReplies > 0 {
					replies <- readReplies(conn, tc.wantReplies)
					return
				}
				data, rerr := io.ReadAll(io.LimitReader(conn, 1<<20))
				replies <- answer{data, rerr}
			}()
			werr := tc.send(conn)
			if tc.vanish {
				conn.Close()
				<-replies
			} else {
				if werr == nil && tc.closeWrite {
					_ = conn.(*net.UnixConn).CloseWrite()
				}
				ans := <-replies
				if ne, ok := errors.AsType[net.Error](ans.err); ok && ne.Timeout() {
					t.Errorf("neither an answer nor a closed connection within %v (got %d bytes)", badInputTimeout, len(ans.data))
				}
				t.Logf("write: %v; server answered %d bytes: %.300s", werr, len(ans.data), ans.data)
				if tc.wantReplies > 0 {
					checkAllErrors(t, ans.data, tc.wantReplies)
				}
			}
			if !a.p.Running() {
				t.Fatalf("server exited: %v", a.p.Err())
			}
			// The well-behaved client, connected all along, is still served.
			cctx, ccancel := context.WithTimeout(ctx, badInputTimeout)
			defer ccancel()
			raw, err := good.Call(cctx, "list_dbs")
			if err != nil || !strings.Contains(string(raw), "OVN_Northbound") {
				t.Fatalf("good client after %s: %s, %v", tc.name, raw, err)
			}
			res := e2etest.Transact(t, a.Addr(), "OVN_Northbound", map[string]any{"op": "select", "table": "Logical_Switch", "where": []any{}, "columns": []string{"name"}})
			if len(res) != 1 || res[0]["error"] != nil {
				t.Fatalf("new client after %s: %v", tc.name, res)
			}
		})
	}
}

// answer is what a bad client read back.
type answer struct {
	data []byte
	err  error
}

// readReplies reads n JSON-RPC messages from r and returns them
// concatenated.
func readReplies(r io.Reader, n int) answer {
	dec := jsonrpc.NewDecoder(r)
	var out []byte
	for range n {
		raw, err := dec.ReadRaw()
		if err != nil {
			return answer{out, err}
		}
		out = append(out, raw...)
	}
	return answer{out, nil}
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// checkAllErrors asserts that data holds n replies, each an error reply or
// a transact result whose first operation failed.
func checkAllErrors(t *testing.T, data []byte, n int) {
	t.Helper()
	dec := jsonrpc.NewDecoder(bytes.NewReader(data))
	got := 0
	for {
		var m jsonrpc.Message
		if err := dec.Decode(&m); err != nil {
			break
		}
		got++
		if m.HasError() {
			continue
		}
		var res []map[string]any
		if err := json.Unmarshal(m.Result, &res); err != nil || len(res) == 0 || res[0]["error"] == nil {
			t.Errorf("reply %s to an op with wrong types is not an error", m.Result)
		}
	}
	if got != n {
		t.Errorf("%d replies to %d bad transactions", got, n)
	}
}
