package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

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
// Its rows are rewritten (throttled) whenever a database's revision or
// subscription health changes, so monitors of _Server see live updates.
type serverDB struct {
	db        *database
	serverID  uuid.UUID
	clusterID uint64
	dbs       map[string]*database
	log       *slog.Logger
	dirty     chan struct{} // capacity 1: a refresh is due

	// schemaText is each database's "schema" column, built once: the
	// schema text is large, and refresh runs after every commit.
	schemaText map[string]ovsdb.Datum
	// schemaEnc is the JSON encoding of each schemaText, spliced into
	// the encoded rows (encodeRow) instead of escaping the text anew.
	schemaEnc map[string][]byte
	// index is each database's published "index", read without mu by
	// noteCommit's fast path; the map itself never changes after New.
	index map[string]*atomic.Int64

	// mu guards mem and published: txn.Database is not safe for
	// concurrent use.
	mu  sync.Mutex
	mem *txn.Database
	// published is the row last written for each database, so refresh
	// compares without decoding the stored rows.
	published map[string]ovsdb.Row
}

func newServerDB(serverID uuid.UUID, clusterID uint64, dbs map[string]*database, log *slog.Logger, m *metrics) (*serverDB, error) {
	sch, err := schema.Parse([]byte(serverSchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("frontend: parse _Server schema: %w", err)
	}
	js, err := marshal(sch.JSON())
	if err != nil {
		return nil, fmt.Errorf("frontend: render _Server schema: %w", err)
	}
	sdb := &serverDB{serverID: serverID, clusterID: clusterID, dbs: dbs, log: log, dirty: make(chan struct{}, 1), mem: txn.NewDatabase(sch)}
	sdb.db = &database{name: ServerDatabase, schema: sch, schemaJSON: js, feed: newFeed(ServerDatabase, sch, log, 0, 0, m), server: sdb}
	sdb.schemaText = map[string]ovsdb.Datum{ServerDatabase: atom(string(js))}
	sdb.schemaEnc = map[string][]byte{ServerDatabase: ovsdb.AppendJSONString(nil, string(js))}
	sdb.index = map[string]*atomic.Int64{ServerDatabase: new(atomic.Int64)}
	for name, db := range dbs {
		sdb.schemaText[name] = atom(string(db.schemaJSON))
		sdb.schemaEnc[name] = ovsdb.AppendJSONString(nil, string(db.schemaJSON))
		sdb.index[name] = new(atomic.Int64)
	}
	sdb.published = map[string]ovsdb.Row{}
	return sdb, nil
}

func toOVSDBUUID(u uuid.UUID) ovsdb.UUID { return ovsdb.UUID(u) }

func atom(a ovsdb.Atom) ovsdb.Datum { return ovsdb.Datum{Keys: []ovsdb.Atom{a}} }

// minRefreshInterval bounds how often _Server's rows are rewritten when
// the databases' revisions advance.
const minRefreshInterval = 50 * time.Millisecond

// serverDBLoaded fills _Server once every database feed is ready and
// starts keeping it current.
func (s *Server) serverDBLoaded() {
	sdb := s.dbs[ServerDatabase].server
	sdb.refresh()
	f := sdb.db.feed
	f.readyOnce.Do(func() { close(f.ready) })
	close(f.backfilled)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sdb.refreshLoop(s.ctx)
	}()
}

// changed tells the refresh loop that a database's revision or health
// changed. It never blocks.
func (sdb *serverDB) changed() {
	select {
	case sdb.dirty <- struct{}{}:
	default:
	}
}

// refreshLoop rewrites _Server's rows after changes, at most every
// minRefreshInterval.
func (sdb *serverDB) refreshLoop(ctx context.Context) {
	t := time.NewTimer(minRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sdb.dirty:
		}
		sdb.refresh()
		t.Reset(minRefreshInterval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rowID is the stable _uuid of name's row.
func rowID(name string) ovsdb.UUID {
	return toOVSDBUUID(uuid.NewSHA1(cidNamespace, []byte("row/"+name)))
}

// desiredRow is name's Database row as a clustered ovsdb-server shows
// it: "index" follows the etcd revision the feed has applied or a
// transact through this frontend returned (so it never goes backwards, and
// frontends of one cluster agree), "connected" and
// "leader" whether the feed's subscription is healthy.
func (sdb *serverDB) desiredRow(name string, db *database) ovsdb.Row {
	row := ovsdb.Row{
		"name":   atom(name),
		"schema": sdb.schemaText[name],
	}
	if name == ServerDatabase {
		row["model"] = atom("standalone")
		row["connected"], row["leader"] = atom(true), atom(true)
		row["sid"], row["cid"], row["index"] = ovsdb.Datum{}, ovsdb.Datum{}, ovsdb.Datum{}
		return row
	}
	db.feed.mu.Lock()
	rev, healthy := db.feed.rev, db.feed.healthy
	db.feed.mu.Unlock()
	// A commit through this frontend counts before its update arrives: a
	// clustered ovsdb-server bumps index before it answers the transact.
	rev = max(rev, db.feed.committed.Load())
	row["model"] = atom("clustered")
	row["connected"], row["leader"] = atom(healthy), atom(healthy)
	row["sid"] = atom(toOVSDBUUID(sdb.serverID))
	row["cid"] = atom(toOVSDBUUID(uuid.NewSHA1(cidNamespace, fmt.Appendf(nil, "%x/%s", sdb.clusterID, name))))
	row["index"] = atom(rev)
	return row
}

// refresh brings _Server's rows up to date and publishes what changed.
func (sdb *serverDB) refresh() {
	f := sdb.db.feed
	sdb.mu.Lock()
	defer sdb.mu.Unlock()
	var changes []rowChange
	for name, db := range sdb.dbs {
		id := rowID(name)
		want := sdb.desiredRow(name, db)
		old := sdb.published[name]
		if old != nil {
			want["_version"] = old["_version"]
			if rowsEqual(old, want) {
				continue
			}
		}
		want["_version"] = atom(toOVSDBUUID(uuid.New()))
		if err := sdb.mem.Put("Database", id, want); err != nil {
			sdb.log.Error("update _Server", "db", name, "err", err)
			continue
		}
		sdb.published[name] = want
		if idx, ok := want["index"]; ok && len(idx.Keys) == 1 {
			sdb.index[name].Store(idx.Keys[0].(int64))
		}
		changes = append(changes, rowChange{table: "Database", uuid: id, old: old, new: want})
	}
	if len(changes) == 0 {
		return
	}
	raws := make([]rawChange, 0, len(changes))
	for _, c := range changes {
		enc, err := sdb.encodeRow(c.new)
		if err != nil {
			sdb.log.Error("encode _Server row", "err", err)
			return
		}
		raws = append(raws, rawChange{table: "Database", uuid: c.uuid, new: enc})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range raws {
		raws[i].old = f.rows["Database"][raws[i].uuid]
		f.rows["Database"][raws[i].uuid] = raws[i].new
	}
	rev := f.rev + 1
	f.recordLocked(rev, raws)
	f.publishLocked(rev, changes)
	f.advanceLocked(rev)
}

// schemaMarker stands for the schema text while a Database row is
// encoded: no other column of _Server can hold a NUL character.
const schemaMarker = "\x00schema\x00"

// encodeRow encodes a Database row as the row codec does, but splices in
// the schema text's encoding made once (schemaEnc) instead of escaping the
// text again: the text is tens of kilobytes and rows are encoded after
// every commit.
func (sdb *serverDB) encodeRow(row ovsdb.Row) ([]byte, error) {
	name, _ := row["name"].Keys[0].(string)
	pre, ok := sdb.schemaEnc[name]
	if !ok {
		return sdb.db.schema.Tables["Database"].EncodeRow(row)
	}
	marked := maps.Clone(row)
	marked["schema"] = atom(schemaMarker)
	enc, err := sdb.db.schema.Tables["Database"].EncodeRow(marked)
	if err != nil {
		return nil, err
	}
	m := ovsdb.AppendJSONString(nil, schemaMarker)
	i := bytes.Index(enc, m)
	if i < 0 {
		return nil, fmt.Errorf("encode _Server row of %q: schema marker not found", name)
	}
	out := make([]byte, 0, len(enc)-len(m)+len(pre))
	out = append(append(append(out, enc[:i]...), pre...), enc[i+len(m):]...)
	return out, nil
}

// noteCommit publishes db's new index after a commit at rev through this
// frontend, before its reply. Most calls find it published already (one
// refresh covers every commit up to its revision) and return at once.
func (sdb *serverDB) noteCommit(db string, rev int64) {
	if idx := sdb.index[db]; idx == nil || idx.Load() >= rev {
		return
	}
	sdb.refresh()
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
