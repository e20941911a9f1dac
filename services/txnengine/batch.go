package txnengine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

// batch accumulates the net effect of the transactions of one group
// commit: one entry per etcd key, since etcd rejects a Txn that touches a
// key twice. A row inserted and deleted within the batch vanishes.
type batch struct {
	keys     keys.Layout
	order    []string
	rows     map[string]*rowOp
	comments []comment
	// dbs are the databases the batch changes, each of whose commit key
	// (keys.Commit) the Txn puts.
	dbs   []string
	txns  int
	bytes int // keys and values, an estimate of the request size
	// asserted are the distinct locks the batch's writing transactions
	// asserted, each fenced by a compare in the Txn.
	asserted []assertedLock
	// arena holds the encoded rows back to back (rowOp.value slices it),
	// so that a batch allocates a few growing chunks instead of a buffer
	// per row grown several times: a 200-port switch row is 8 KB. It is
	// append-only: a value, once encoded, is never written again.
	arena []byte
	// lastRow is the size of the last row encoded, the room a new chunk
	// must have.
	lastRow int
}

// arena chunks start at minChunk bytes and double up to maxChunk.
const (
	minChunk = 4 << 10
	maxChunk = 1 << 20
)

type rowOp struct {
	existed bool   // the row was in etcd before the batch
	value   []byte // nil: delete
}

type comment struct {
	db, text string
}

func newBatch(keys keys.Layout) *batch {
	return &batch{keys: keys, rows: make(map[string]*rowOp)}
}

// assert records locks to fence with a compare on their ModRevision.
func (b *batch) assert(locks []assertedLock) {
	for _, a := range locks {
		if !slices.Contains(b.asserted, a) {
			b.asserted = append(b.asserted, a)
		}
	}
}

// assertedKeys returns the distinct keys of b.asserted, in order.
func (b *batch) assertedKeys() []string {
	var out []string
	for _, a := range b.asserted {
		if !slices.Contains(out, a.key) {
			out = append(out, a.key)
		}
	}
	return out
}

// add records one transaction's changes to database name.
func (b *batch) add(name string, db *txn.Database, changes []txn.RowChange, comments []string) error {
	b.txns++
	s := db.Schema()
	if len(changes) > 0 && !slices.Contains(b.dbs, name) {
		b.dbs = append(b.dbs, name)
		b.bytes += len(b.keys.Commit(name))
	}
	for _, c := range changes {
		key := b.keys.Row(name, c.Table, c.UUID)
		op, ok := b.rows[key]
		if !ok {
			op = &rowOp{existed: c.Old != nil}
			b.rows[key] = op
			b.order = append(b.order, key)
			b.bytes += len(key)
		}
		b.bytes -= len(op.value)
		op.value = nil
		if c.New != nil {
			v, err := b.encodeRow(s, c.Table, c.New)
			if err != nil {
				return err
			}
			op.value = v
			b.bytes += len(v)
		}
	}
	for _, text := range comments {
		b.comments = append(b.comments, comment{db: name, text: text})
		b.bytes += len(text) + 64
	}
	return nil
}

// encodeRow encodes row into the arena and returns its bytes.
func (b *batch) encodeRow(s *schema.Database, table string, row ovsdb.Row) ([]byte, error) {
	t, ok := s.Tables[table]
	if !ok {
		return nil, fmt.Errorf("table %q not in schema %q", table, s.Name)
	}
	if room := cap(b.arena) - len(b.arena); room < b.lastRow+b.lastRow/4 || b.arena == nil {
		// A new chunk; the old one stays alive through its values.
		size := min(max(2*cap(b.arena), minChunk, 2*b.lastRow), maxChunk)
		b.arena = make([]byte, 0, max(size, b.lastRow+b.lastRow/4))
	}
	start := len(b.arena)
	out, err := t.AppendRow(b.arena, row)
	if err != nil {
		return nil, fmt.Errorf("encode %s row: %w", table, err)
	}
	// If AppendRow outgrew the chunk, out is a copy and the new chunk.
	b.arena = out
	b.lastRow = len(out) - start
	return out[start:len(out):len(out)], nil
}

// ops is the number of etcd operations the batch needs (an upper bound).
func (b *batch) ops() int { return len(b.rows) + len(b.comments) + len(b.dbs) }

// empty reports whether the batch writes nothing.
func (b *batch) empty() bool {
	for _, op := range b.rows {
		if op.value != nil || op.existed {
			return false
		}
	}
	return len(b.comments) == 0
}

// etcdOps returns the batch's puts and deletes, the commit key of each
// database it changes, then its comments keyed by now.
func (b *batch) etcdOps(now time.Time) []clientv3.Op {
	ops := make([]clientv3.Op, 0, len(b.order)+len(b.dbs)+len(b.comments)+1)
	for _, key := range b.order {
		op := b.rows[key]
		switch {
		case op.value != nil:
			// No copy for the string: OpPut copies it into its own
			// []byte at once, and the arena never changes a value.
			ops = append(ops, clientv3.OpPut(key, unsafe.String(unsafe.SliceData(op.value), len(op.value))))
		case op.existed:
			ops = append(ops, clientv3.OpDelete(key))
		}
	}
	for _, db := range b.dbs {
		// The value does not matter: the key's ModRevision is db's last
		// commit revision, which frontends read before a new monitor.
		ops = append(ops, clientv3.OpPut(b.keys.Commit(db), ""))
	}
	n := map[string]int{}
	for _, c := range b.comments {
		ops = append(ops, clientv3.OpPut(b.keys.Comment(c.db, now, n[c.db]), c.text))
		n[c.db]++
	}
	return ops
}

// isSizeError reports whether err proves etcd refused a request for its
// size before applying it: the server's limits (too many operations,
// request too large) or gRPC's message size limits on either side.
func isSizeError(err error) bool {
	if errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return true
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.ResourceExhausted:
			return strings.Contains(st.Message(), "larger than max")
		case codes.InvalidArgument:
			msg := st.Message()
			return msg == rpctypes.ErrGRPCTooManyOps.Error() || msg == rpctypes.ErrGRPCRequestTooLarge.Error() ||
				msg == "etcdserver: too many operations in txn request" || msg == "etcdserver: request is too large"
		}
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.InvalidArgument &&
			(ee.Error() == rpctypes.ErrTooManyOps.Error() || ee.Error() == rpctypes.ErrRequestTooLarge.Error())
	}
	return false
}
