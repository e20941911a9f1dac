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
	var last string               // the last last-txn-id seen
	byStep := map[string]string{} // "$S<n>" -> last as of step n
	track := func(msgs []any) {
		for _, v := range msgs {
			m, _ := v.(map[string]any)
			if p, _ := m["params"].([]any); m["method"] == "update3" && len(p) == 3 {
				last, _ = p[1].(string)
			}
			if r, _ := m["result"].([]any); len(r) == 3 {
				if _, isBool := r[0].(bool); isBool {
					last, _ = r[1].(string)
				}
			}
		}
	}
	for i, step := range steps {
		label, req, _ := strings.Cut(step, ":")
		req = strings.ReplaceAll(req, "$LAST", last)
		for k, v := range byStep {
			req = strings.ReplaceAll(req, k+`"`, v+`"`)
		}
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
			track(msgs)
			rec["reply"] = msgs[len(msgs)-1]
			if len(msgs) > 1 {
				notes[label] = append(asSlice(notes[label]), sortByMonitor(msgs[:len(msgs)-1])...)
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
			track(msgs)
			if len(msgs) > 1 {
				notes[l] = append(asSlice(notes[l]), sortByMonitor(msgs[:len(msgs)-1])...)
			}
		}
		out = append(out, rec)
		byStep[fmt.Sprintf("$S%d", i+1)] = last
	}
	return append(out, notes)
}

// sortByMonitor orders the notifications one step caused by monitor id:
// the servers order the monitors of one transaction differently.
func sortByMonitor(msgs []any) []any {
	sort.SliceStable(msgs, func(a, b int) bool { return monitorKey(msgs[a]) < monitorKey(msgs[b]) })
	return msgs
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

// TestCompareMonitorCondWithClusteredOVSDBServer compares
// monitor_cond_since, update3 and monitor_cond_change with a one-member
// clustered ovsdb-server, as ovsdb-etcd presents itself. "$LAST" is the
// last last-txn-id the script has seen, "$S<n>" the one as of step n.
func TestCompareMonitorCondWithClusteredOVSDBServer(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{testSchemaPath}, Clustered: true})
	env := startServer(t, nil)
	const zero = "00000000-0000-0000-0000-000000000000"
	// Filler rows: ovsdb-server trims its transaction history once it is
	// larger than the database, so give the database some weight.
	var filler []string
	for i := range 40 {
		filler = append(filler, fmt.Sprintf(`{"op":"insert","table":"B","row":{"name":"filler-%d-%s"}}`, i, strings.Repeat("x", 200)))
	}
	steps := []string{
		`z:{"method":"transact","params":["T",` + strings.Join(filler, ",") + `],"id":0}`,
		`a:{"method":"monitor_cond_since","params":["T","m",{"A":[{"columns":["s","i"]}]},"` + zero + `"],"id":1}`,
		`a:{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"s":"one","i":1}}],"id":2}`,
		`a:{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"s":"two","i":2}}],"id":3}`,
		`b:{"method":"monitor_cond_since","params":["T","m",{"A":[{"columns":["s","i"]}]},"$LAST"],"id":4}`,
		`a:{"method":"transact","params":["T",{"op":"update","table":"A","where":[["s","==","two"]],"row":{"i":3}}],"id":5}`,
		`a:{"method":"transact","params":["T",{"op":"delete","table":"A","where":[["s","==","one"]]}],"id":6}`,
		`a:{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"s":"three","i":3}}],"id":7}`,
		`c:{"method":"monitor_cond_since","params":["T","m",{"A":[{"columns":["s","i"]}]},"$S5"],"id":8}`,
		`d:{"method":"monitor_cond_since","params":["T","m",{"A":[{"columns":["s","i"],"where":[["i","==",3]]}]},"` + zero + `"],"id":9}`,
		`e:{"method":"monitor_cond","params":["T","or",{"A":[{"columns":["s"],"where":[["s","==","one"],["s","==","three"],["i","==",3]]}]}],"id":9.1}`,
		`e:{"method":"monitor_cond","params":["T","empty",{"A":[{"columns":["s"],"where":[]}]}],"id":9.2}`,
		`e:{"method":"monitor_cond","params":["T","f",{"A":[{"columns":["s"],"where":[false,["i","==",3]]}]}],"id":9.3}`,
		`a:{"method":"monitor_cond_change","params":["m","m2",{"A":[{"where":[["i","==",3]]}]}],"id":10}`,
		`a:{"method":"monitor_cond_change","params":["m2","m2",{"A":[{"where":[["s","==","two"]]}]}],"id":11}`,
		`e:{"method":"monitor_cond_change","params":["or","or",{"A":[{"where":[["s","==","zz"],["s","==","two"]]}]}],"id":11.1}`,
		`a:{"method":"monitor_cond_change","params":["m2","m3",{"A":[{"columns":["s"],"where":[false]}]}],"id":12}`,
		`a:{"method":"monitor_cond_change","params":["zz","m3",{"A":[{"where":[false]}]}],"id":13}`,
		`a:{"method":"monitor_cond_change","params":["m2"],"id":14}`,
		`a:{"method":"monitor_cond_change","params":["m2","m2",{"A":{"where":[false]}}],"id":15}`,
		`a:{"method":"monitor_cond_change","params":["m2","m2",{"A":[{"where":[["zz","==",1]]}]}],"id":16}`,
		`a:{"method":"monitor","params":["T","v1",{"A":{"columns":["s"]}}],"id":17}`,
		`a:{"method":"monitor_cond_change","params":["m2","v1",{"A":[{"where":[true]}]}],"id":18}`,
		`a:{"method":"monitor_cond_change","params":["v1","v1",{"A":[{"where":[false]}]}],"id":19}`,
		`a:{"method":"monitor_cond_change","params":["m2","m2",{"A":[{"columns":["i","s"],"where":[true]}]}],"id":20}`,
		`a:{"method":"monitor_cond_change","params":["m2","m2",{"A":[{"columns":["s","i"],"where":[["i","<",3]]}]}],"id":20.5}`,
		`a:{"method":"monitor_cond_change","params":["m2","m2",{"A":[{"columns":[],"where":[["i","<",3]]}]}],"id":20.7}`,
		`a:{"method":"transact","params":["T",{"op":"delete","table":"A","where":[]}],"id":21}`,
		`a:{"method":"monitor_cond_since","params":["T","x"],"id":22}`,
		`a:{"method":"monitor_cond_since","params":["T","x",{"A":{}},5],"id":23}`,
		`a:{"method":"monitor_cond_since","params":["T","x",{"A":{}},"zz"],"id":24}`,
		`a:{"method":"monitor_cond_since","params":["T","m",{"A":{}},"` + zero + `"],"id":25}`,
	}
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
}
