package frontend

import (
	"reflect"
	"sort"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

// script is a sequence of raw requests; every request with an id gets a
// reply, and the transcript up to each reply is compared between
// ovsdb-server and the frontend.
type script struct {
	name string
	reqs []string // each a request with a numeric id equal to its index+1, or a notification
}

// transcript sends the requests of sc and collects, per request with an
// id, the messages received up to and including its reply. Notifications
// between two replies are sorted by monitor id, since ovsdb-server and
// the frontend order monitors differently.
func transcript(t *testing.T, sock string, sc script) []any {
	t.Helper()
	rc := dialRaw(t, sock)
	var out []any
	for _, req := range sc.reqs {
		rc.send(req)
		id, ok := requestID(t, req)
		if !ok {
			continue
		}
		msgs := rc.recvUntilReply(id)
		notes, reply := msgs[:len(msgs)-1], msgs[len(msgs)-1]
		sort.SliceStable(notes, func(a, b int) bool {
			return monitorKey(notes[a]) < monitorKey(notes[b])
		})
		out = append(out, map[string]any{"req": req, "notifications": notes, "reply": reply})
	}
	return out
}

// requestID returns the canonical JSON of req's id, if it has one.
func requestID(t *testing.T, req string) (string, bool) {
	t.Helper()
	v, err := jsonrpc.DecodeValue([]byte(req))
	if err != nil {
		t.Fatalf("bad script request %s: %v", req, err)
	}
	id := v.(map[string]any)["id"]
	return ovsJSON(id), id != nil
}

func monitorKey(v any) string {
	m, _ := v.(map[string]any)
	p, _ := m["params"].([]any)
	if len(p) == 0 {
		return ""
	}
	return ovsJSON(p[0])
}

// TestCompareWithOVSDBServer replays scripts against the real
// ovsdb-server and the frontend and compares whole replies and update
// notifications after normalizing UUIDs: the project's oracle.
func TestCompareWithOVSDBServer(t *testing.T) {
	ref := refserver.Start(t, refserver.Options{Schemas: []string{testSchemaPath}})
	env := startServer(t, nil)

	scripts := []script{
		{name: "errors", reqs: []string{
			`{"method":"nosuch","params":[],"id":1}`,
			`{"method":"get_schema","params":["X"],"id":2}`,
			`{"method":"get_schema","params":[],"id":3}`,
			`{"method":"get_schema","params":[1],"id":4}`,
			`{"method":"transact","params":["X"],"id":5}`,
			`{"method":"transact","params":[],"id":6}`,
			`{"method":"monitor_cancel","params":["nope"],"id":7}`,
			`{"method":"monitor_cancel","params":[],"id":8}`,
			`{"method":"set_db_change_aware","params":[],"id":9}`,
			`{"method":"set_db_change_aware","params":["x"],"id":10}`,
			`{"method":"set_db_change_aware","params":[true],"id":11}`,
			`{"method":"echo","params":[1,"a",{"b":[]}],"id":12}`,
			`{"method":"list_dbs","params":[],"id":13}`,
			`{"method":"monitor","params":["T",null,{"Z":{}}],"id":14}`,
			`{"method":"monitor","params":["T",null,{"A":{"columns":["zz"]}}],"id":15}`,
			`{"method":"monitor","params":["T",null,5],"id":16}`,
			`{"method":"monitor","params":["X",null,{}],"id":17}`,
			`{"method":"monitor","params":["T",null,{"A":[{"columns":["s"]},{"columns":["s"]}]}],"id":18}`,
			`{"method":"monitor","params":["T",null,{"A":{"columns":["s","s"]}}],"id":19}`,
			`{"method":"monitor","params":["T",null,{"A":{"select":{"initial":false,"bogus":1}}}],"id":20}`,
			`{"method":"monitor","params":["T",null,{"A":{"select":{"initial":1}}}],"id":21}`,
			`{"method":"monitor","params":["T",null,{"A":{"columns":"s"}}],"id":22}`,
			`{"method":"monitor","params":["T","m",{"A":{"columns":[]}}],"id":23}`,
			`{"method":"monitor","params":["T","m",{}],"id":24}`,
			`{"method":"monitor_cancel","params":["m"],"id":25}`,
			`{"method":"transact","params":["T"],"id":26}`,
			`{"method":"transact","params":["_Server",{"op":"insert","table":"Database","row":{"name":"x","model":"standalone","connected":true,"leader":true}}],"id":27}`,
			`{"method":"transact","params":["_Server",{"op":"delete","table":"Database","where":[]}],"id":28}`,
			`{"method":"echo","params":[],"id":[29]}`,
			`{"method":"get_schema","params":["T"],"id":30}`,
			`{"method":"get_schema","params":["_Server"],"id":31}`,
			`{"method":"cancel","params":[1],"id":32}`,
			`{"method":"cancel","params":["none"],"id":null}`,
			`{"method":"echo","params":[],"id":34}`,
			`{"method":"monitor","params":["T","u",{"A":{"columns":["_uuid","s"]}}],"id":35}`,
			`{"method":"monitor","params":["T","v",{"A":{"columns":["_version"]}}],"id":36}`,
			`{"method":"monitor","params":["T","w",{},1],"id":37}`,
			`{"method":"monitor_cond","params":["T","x",{"A":[{"where":[["s","==","a"]],"select":{"initial":true}}]}],"id":38}`,
			`{"method":"monitor","params":["T","y",{"A":{"where":[]}}],"id":39}`,
			`{"method":"monitor","params":["T","z",{"A":"s"}],"id":40}`,
			`{"method":"monitor_cond","params":["T","z2",{"A":[{"where":5}]}],"id":41}`,
			`{"method":"monitor_cond","params":["T","z3",{"A":[{"where":[["s","~~","a"]]}]}],"id":42}`,
			`{"method":"monitor_cancel","params":["u"],"id":43}`,
			`{"method":"list_dbs","id":44,"params":[]}`,
			`{"method":"","params":[],"id":45}`,
			`{"method":"echo","params":[],"id":46,"result":null,"error":null}`,
		}},
		{name: "updates", reqs: []string{
			`{"method":"monitor","params":["T","m1",{"A":{}}],"id":1}`,
			`{"method":"monitor_cond","params":["T","m2",{"A":[{"columns":["s","set","m","o","i"]}]}],"id":2}`,
			`{"method":"monitor_cond","params":["T","m3",{"A":[{"where":[["i","==",1]]}]}],"id":3}`,
			`{"method":"monitor","params":["T",["m4"],{"A":{"columns":["s","i"],"select":{"insert":false}}}],"id":4}`,
			`{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"s":"a","set":["set",[1,2]],"m":["map",[["k","v"],["k2","v2"]]]}}],"id":5}`,
			`{"method":"transact","params":["T",{"op":"update","table":"A","where":[],"row":{"s":"b","i":1,"set":["set",[2,3]],"m":["map",[["k","v9"],["k3","v3"]]],"o":"x"}}],"id":6}`,
			`{"method":"transact","params":["T",{"op":"update","table":"A","where":[],"row":{"i":2,"o":["set",[]]}}],"id":7}`,
			`{"method":"transact","params":["T",{"op":"update","table":"A","where":[],"row":{"set":["set",[3]],"m":["map",[]]}}],"id":8}`,
			`{"method":"monitor_cond","params":["T","m5",{"A":[{"columns":["s","set"]}]}],"id":9}`,
			`{"method":"monitor","params":["T","m6",{"A":{"columns":["set"]}}],"id":10}`,
			`{"method":"transact","params":["T",{"op":"update","table":"A","where":[],"row":{"s":"c"}}],"id":11}`,
			`{"method":"monitor_cancel","params":["m1"],"id":12}`,
			`{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"s":"q","i":1}},{"op":"delete","table":"A","where":[["s","==","c"]]}],"id":13}`,
			`{"method":"transact","params":["T",{"op":"delete","table":"A","where":[]}],"id":14}`,
		}},
		{name: "types", reqs: []string{
			`{"method":"monitor_cond","params":["T","c2",{"C":[{}],"B":[{}]}],"id":1}`,
			`{"method":"monitor","params":["T","c1",{"C":{},"B":{}}],"id":2}`,
			`{"method":"monitor_cond","params":["T","nomod",{"C":[{"columns":["r","b"],"select":{"modify":false,"initial":false}}]}],"id":3}`,
			`{"method":"transact","params":["T",{"op":"insert","table":"A","row":{"s":"target"},"uuid-name":"t"},{"op":"insert","table":"B","row":{"name":"ref","a":["named-uuid","t"]}},{"op":"insert","table":"C","row":{"r":1.5,"b":true,"e":"y","ss":["set",["b","a"]],"mi":["map",[[2,0.5],[1,-1e10]]],"ou":["uuid","8ee2a7b5-5b8b-4a4e-9c1c-0c0b4c3f1e11"],"s2":["set",[7,3]]}}],"id":4}`,
			`{"method":"transact","params":["T",{"op":"update","table":"C","where":[],"row":{"r":2,"b":false,"e":"z","ss":"c","mi":["map",[[2,0.25],[3,3]]],"ou":["set",[]],"s2":5}}],"id":5}`,
			`{"method":"transact","params":["T",{"op":"mutate","table":"C","where":[],"mutations":[["mi","delete",["set",[2]]],["ss","insert",["set",["d","e"]]],["r","*=",1.5]]}],"id":6}`,
			`{"method":"transact","params":["T",{"op":"delete","table":"A","where":[]}],"id":7}`,
			`{"method":"monitor_cond","params":["T","late",{"C":[{"columns":["r","mi","ss","s2","ou"]}],"B":[{}]}],"id":8}`,
			`{"method":"transact","params":["T",{"op":"update","table":"C","where":[],"row":{"r":0.1}}],"id":9}`,
			`{"method":"transact","params":["T",{"op":"delete","table":"C","where":[]},{"op":"delete","table":"B","where":[]}],"id":10}`,
		}},
	}
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			want := normalize(transcript(t, ref.SocketPath(), sc)).([]any)
			got := normalize(transcript(t, env.sock, sc)).([]any)
			if len(want) < len(sc.reqs)-2 || len(got) != len(want) {
				t.Fatalf("transcripts have %d (ovsdb-server) and %d (frontend) replies for %d requests", len(want), len(got), len(sc.reqs))
			}
			for i := range got {
				t.Logf("step %d: %s", i+1, ovsJSON(got[i]))
			}
			for i := range want {
				if i >= len(got) {
					t.Fatalf("frontend transcript ends after %d replies", len(got))
				}
				if !reflect.DeepEqual(want[i], got[i]) {
					t.Errorf("step %d differs:\nrequest: %v\novsdb-server: %s\nfrontend:     %s",
						i+1, want[i].(map[string]any)["req"], ovsJSON(dropReq(want[i])), ovsJSON(dropReq(got[i])))
				}
			}
		})
	}
}

func dropReq(v any) any {
	m := v.(map[string]any)
	return map[string]any{"notifications": m["notifications"], "reply": m["reply"]}
}
