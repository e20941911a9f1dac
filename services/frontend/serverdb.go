package frontend

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// serverSchemaJSON is ovsdb-server 3.1's _Server schema, verbatim.
const serverSchemaJSON = `{"name":"_Server","version":"1.2.0","cksum":"3009684573 744","tables":{"Database":{"columns":{` +
	`"name":{"type":"string"},` +
	`"model":{"type":{"key":{"type":"string","enum":["set",["clustered","relay","standalone"]]}}},` +
	`"connected":{"type":"boolean"},` +
	`"leader":{"type":"boolean"},` +
	`"schema":{"type":{"key":"string","min":0}},` +
	`"sid":{"type":{"key":"uuid","min":0}},` +
	`"cid":{"type":{"key":"uuid","min":0}},` +
	`"index":{"type":{"key":"integer","min":0}}}}}}`

// cidNamespace derives stable cluster ids from database names.
var cidNamespace = uuid.MustParse("5a0f2a5e-6f0e-4f4c-9d0b-6f7664622d65")

// serverDB is the read-only _Server database: one Database row per
// served database, as a clustered ovsdb-server shows them.
//
// Not yet live: the rows are built once, when every database is loaded
// (Serve); "index" is the etcd revision at that point. Issue 5 makes
// leader/connected/index follow the txnengine and etcd.
type serverDB struct {
	db       *database
	serverID string
	dbs      map[string]*database

	// mu guards mem: txn.Database is not safe for concurrent use.
	mu  sync.Mutex
	mem *txn.Database
}

func newServerDB(serverID string, dbs map[string]*database, log *slog.Logger, m *metrics) (*serverDB, error) {
	sch, err := schema.Parse([]byte(serverSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("frontend: parse _Server schema: %w", err)
	}
	js, err := marshal(sch.JSON())
	if err != nil {
		return nil, fmt.Errorf("frontend: render _Server schema: %w", err)
	}
	sdb := &serverDB{serverID: serverID, dbs: dbs, mem: txn.NewDatabase(sch)}
	sdb.db = &database{name: ServerDatabase, schema: sch, schemaJSON: js, feed: newFeed(ServerDatabase, sch, log, 0, 0, m), server: sdb}
	return sdb, nil
}

func toOVSDBUUID(u uuid.UUID) ovsdb.UUID { return ovsdb.UUID(u) }

func atom(a ovsdb.Atom) ovsdb.Datum { return ovsdb.Datum{Keys: []ovsdb.Atom{a}} }

// serverDBLoaded fills _Server once every database feed is ready.
func (s *Server) serverDBLoaded() {
	sdb := s.dbs[ServerDatabase].server
	f := sdb.db.feed
	var raw []RawRow
	sdb.mu.Lock()
	for name, db := range s.dbs {
		model := "clustered"
		row := ovsdb.Row{
			"name":      atom(name),
			"connected": atom(true),
			"leader":    atom(true),
			"schema":    atom(string(db.schemaJSON)),
			"_version":  atom(toOVSDBUUID(uuid.New())),
		}
		if name == ServerDatabase {
			model = "standalone"
			row["sid"], row["cid"], row["index"] = ovsdb.Datum{}, ovsdb.Datum{}, ovsdb.Datum{}
		} else {
			db.feed.mu.Lock()
			rev := db.feed.rev
			db.feed.mu.Unlock()
			row["sid"] = atom(toOVSDBUUID(uuid.MustParse(s.serverID)))
			row["cid"] = atom(toOVSDBUUID(uuid.NewSHA1(cidNamespace, []byte(name))))
			row["index"] = atom(rev)
		}
		row["model"] = atom(model)
		id := uuid.NewSHA1(cidNamespace, []byte("row/"+name))
		if err := sdb.mem.Put("Database", toOVSDBUUID(id), row); err != nil {
			s.log.Error("fill _Server", "db", name, "err", err)
		}
		// The feed decodes raw rows; hand it the row directly instead.
		raw = append(raw, RawRow{Table: "Database", UUID: id.String()})
		f.mu.Lock()
		f.rows["Database"][toOVSDBUUID(id)] = row
		f.mu.Unlock()
	}
	sdb.mu.Unlock()
	_ = raw
	f.mu.Lock()
	f.advanceLocked(1)
	f.mu.Unlock()
	f.readyOnce.Do(func() { close(f.ready) })
}

// transact runs a transaction on _Server. Writes are refused with
// ovsdb-server's "not allowed" error at their position; operations after
// it are not executed (null), as ovsdb-server does.
func (sdb *serverDB) transact(ops []any) []byte {
	n := len(ops)
	for i, op := range ops {
		obj, ok := op.(map[string]any)
		if !ok {
			continue
		}
		name, _ := obj["op"].(string)
		switch name {
		case "insert", "update", "mutate", "delete":
			sdb.mu.Lock()
			res := txn.Execute(sdb.mem, ops[:i], txn.Options{})
			sdb.mu.Unlock()
			reply := append([]any(nil), res.Reply...)
			if len(reply) == i {
				reply = append(reply, ovsdb.NewError(ovsdb.TagNotAllowed,
					"%s operation not allowed on table in reserved database %s", name, ServerDatabase).JSON())
			}
			for len(reply) < n {
				reply = append(reply, nil)
			}
			return mustMarshal(reply)
		}
	}
	sdb.mu.Lock()
	res := txn.Execute(sdb.mem, ops, txn.Options{WaitExpired: true})
	sdb.mu.Unlock()
	return mustMarshal(res.Reply)
}

func mustMarshal(v any) []byte {
	b, err := marshal(v)
	if err != nil {
		b, _ = json.Marshal(ovsdb.NewError(ovsdb.TagInternalError, "encode reply: %v", err).JSON())
		return b
	}
	return b
}
