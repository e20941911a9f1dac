package frontend

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// multiTranscript runs steps "label:request" over several connections
// (label "x:CLOSE" closes x; "x:WAITNOTE" waits for x's next message,
// for what a close causes). After each step it syncs every connection
// with an echo and appends the notifications it got to that connection's
// stream, which is compared as a whole: a server notices a closed
// connection asynchronously, so what a close causes may arrive one step
// later on one server than on the other.
func multiTranscript(t *testing.T, sock string, steps []string) []any {
	t.Helper()
	conns := map[string]*rawConn{}
	var out []any
	notes := map[string]any{}
	for i, step := range steps {
		label, req, _ := strings.Cut(step, ":")
		switch req {
		case "CLOSE":
			_ = conns[label].c.Close()
			delete(conns, label)
			continue
		case "WAITNOTE": // block until the next notification on label
			v, err := jsonrpc.DecodeValue(conns[label].recv())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, map[string]any{"step": step, "note": v})
			continue
		}
		rc, ok := conns[label]
		if !ok {
			rc = dialRaw(t, sock)
			conns[label] = rc
		}
		rc.send(req)
		rec := map[string]any{"step": step}
		if id, ok := requestID(t, req); ok {
			msgs := rc.recvUntilReply(id)
			rec["reply"] = msgs[len(msgs)-1]
			if len(msgs) > 1 {
				notes[label] = append(asSlice(notes[label]), msgs[:len(msgs)-1]...)
			}
		}
		labels := make([]string, 0, len(conns))
		for l := range conns {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		for _, l := range labels {
			syncID := fmt.Sprintf(`"sync-%d-%s"`, i, l)
			conns[l].send(`{"method":"echo","params":[],"id":` + syncID + `}`)
			msgs := conns[l].recvUntilReply(syncID)
			if len(msgs) > 1 {
				notes[l] = append(asSlice(notes[l]), msgs[:len(msgs)-1]...)
			}
		}
		out = append(out, rec)
	}
	return append(out, notes)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestCompareLocksWithOVSDBServer checks lock, steal, unlock, the locked
// and stolen notifications and "assert" against ovsdb-server.
func TestCompareLocksWithOVSDBServer(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{testSchemaPath}})
	env := startServer(t, nil)
	scenarios := map[string][]string{
		"lock and wait": {
			`a:{"method":"lock","params":["L"],"id":1}`,
			`b:{"method":"lock","params":["L"],"id":2}`,
			`a:{"method":"lock","params":["L"],"id":3}`,
			`a:{"method":"unlock","params":["M"],"id":4}`,
			`b:{"method":"steal","params":["L"],"id":5}`,
			`a:{"method":"transact","params":["T",{"op":"assert","lock":"L"}],"id":6}`,
			`b:{"method":"transact","params":["T",{"op":"assert","lock":"L"}],"id":7}`,
			`a:{"method":"unlock","params":["L"],"id":8}`,
			`a:{"method":"lock","params":["L"],"id":9}`,
			`b:CLOSE`,
			`a:WAITNOTE`,
			`a:{"method":"lock","params":[],"id":12}`,
			`a:{"method":"lock","params":[1],"id":13}`,
			`a:{"method":"lock","params":["L",2],"id":14}`,
			`a:{"method":"unlock","params":["L"],"id":15}`,
			`a:{"method":"unlock","params":["L"],"id":16}`,
			`a:{"method":"steal","params":[],"id":17}`,
			`a:{"method":"unlock","params":[true],"id":18}`,
		},
		"steal": {
			`a:{"method":"lock","params":["S"],"id":1}`,
			`b:{"method":"steal","params":["S"],"id":2}`,
			`a:{"method":"transact","params":["T",{"op":"assert","lock":"S"}],"id":3}`,
			`b:{"method":"transact","params":["T",{"op":"assert","lock":"S"},{"op":"insert","table":"A","row":{"s":"by b"}}],"id":4}`,
			`a:{"method":"unlock","params":["S"],"id":5}`,
			`c:{"method":"lock","params":["S"],"id":6}`,
			`b:CLOSE`,
			`c:WAITNOTE`,
			`c:{"method":"steal","params":["S"],"id":9}`,
			`d:{"method":"lock","params":["X"],"id":10}`,
			`e:{"method":"lock","params":["X"],"id":11}`,
			`f:{"method":"lock","params":["X"],"id":12}`,
			`e:{"method":"unlock","params":["X"],"id":13}`,
			`d:CLOSE`,
			`f:WAITNOTE`,
			`g:{"method":"lock","params":["Y"],"id":16}`,
			`h:{"method":"lock","params":["Y"],"id":17}`,
			`i:{"method":"steal","params":["Y"],"id":18}`,
			`i:{"method":"unlock","params":["Y"],"id":19}`,
		},
	}
	for name, steps := range scenarios {
		t.Run(name, func(t *testing.T) {
			want := normalize(multiTranscript(t, ref.SocketPath(), steps)).([]any)
			got := normalize(multiTranscript(t, env.sock, steps)).([]any)
			if len(got) != len(want) {
				t.Fatalf("transcripts have %d and %d steps", len(want), len(got))
			}
			for i := range want {
				if !reflect.DeepEqual(want[i], got[i]) {
					t.Errorf("step %d differs:\novsdb-server: %s\nfrontend:     %s", i+1, ovsJSON(want[i]), ovsJSON(got[i]))
				}
			}
		})
	}
}
