package txn

import (
	"encoding/binary"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// rowHmap reproduces the iteration order of the hash map in which
// ovsdb-server keeps a transaction's rows of one table (lib/hmap.c keyed by
// uuid_hash, the UUID's first 32 bits). ovsdb-server visits the rows at
// commit in that order, so it decides which of several errors a
// transaction reports; with UUIDs chosen by the client ("uuid" member)
// that answer is deterministic and matched here.
type rowHmap struct {
	buckets []*txnRow
	mask    uint64
	n       int
}

func uuidHash(tr *txnRow) uint32 { return binary.BigEndian.Uint32(tr.uuid[0:4]) }

func (h *rowHmap) insert(tr *txnRow) {
	if h.buckets == nil {
		h.buckets = make([]*txnRow, 1)
	}
	tr.hash = uuidHash(tr)
	b := uint64(tr.hash) & h.mask
	tr.hnext = h.buckets[b]
	h.buckets[b] = tr
	h.n++
	if uint64(h.n)/2 > h.mask {
		if m := calcMask(uint64(h.n)); m > h.mask {
			old := h.buckets
			h.buckets = make([]*txnRow, m+1)
			h.mask = m
			for _, head := range old {
				for x := head; x != nil; {
					next := x.hnext
					bb := uint64(x.hash) & m
					x.hnext = h.buckets[bb]
					h.buckets[bb] = x
					x = next
				}
			}
		}
	}
}

func (h *rowHmap) remove(tr *txnRow) {
	if h.buckets == nil {
		return
	}
	p := &h.buckets[uint64(tr.hash)&h.mask]
	for *p != nil {
		if *p == tr {
			*p = tr.hnext
			tr.hnext = nil
			h.n--
			return
		}
		p = &(*p).hnext
	}
}

// first and next are hmap_first and hmap_next.
func (h *rowHmap) first() *txnRow { return h.scan(0) }

func (h *rowHmap) next(tr *txnRow) *txnRow {
	if tr.hnext != nil {
		return tr.hnext
	}
	return h.scan((uint64(tr.hash) & h.mask) + 1)
}

func (h *rowHmap) scan(from uint64) *txnRow {
	for i := from; i < uint64(len(h.buckets)); i++ {
		if h.buckets[i] != nil {
			return h.buckets[i]
		}
	}
	return nil
}

// rnode is a row's place in its table's rowOrder.
type rnode struct {
	uuid ovsdb.UUID
	hash uint32
	next *rnode
	// e is the committed row, nil for a row a transaction inserted.
	e *entry
}

func newRnode(u ovsdb.UUID) *rnode {
	return &rnode{uuid: u, hash: binary.BigEndian.Uint32(u[0:4])}
}

// rowOrder reproduces the iteration order of an ovsdb-server table's rows
// (ovsdb_table's hmap keyed by uuid_hash), which is the order in which
// update, mutate and delete visit matching rows. It changes as
// ovsdb-server's does: an insert puts the row in at execution time, a
// delete or garbage collection takes it out, and an aborted transaction
// puts its deleted rows back (at the head of their bucket).
type rowOrder struct {
	buckets []*rnode
	mask    uint64
	n       int
}

func (h *rowOrder) insert(nd *rnode) {
	if h.buckets == nil {
		h.buckets = make([]*rnode, 1)
	}
	b := uint64(nd.hash) & h.mask
	nd.next = h.buckets[b]
	h.buckets[b] = nd
	h.n++
	if uint64(h.n)/2 > h.mask {
		if m := calcMask(uint64(h.n)); m > h.mask {
			old := h.buckets
			h.buckets = make([]*rnode, m+1)
			h.mask = m
			for _, head := range old {
				for x := head; x != nil; {
					next := x.next
					bb := uint64(x.hash) & m
					x.next = h.buckets[bb]
					h.buckets[bb] = x
					x = next
				}
			}
		}
	}
}

func (h *rowOrder) remove(nd *rnode) {
	if h.buckets == nil || nd == nil {
		return
	}
	p := &h.buckets[uint64(nd.hash)&h.mask]
	for *p != nil {
		if *p == nd {
			*p = nd.next
			nd.next = nil
			h.n--
			return
		}
		p = &(*p).next
	}
}

func (h *rowOrder) first() *rnode { return h.scan(0) }

func (h *rowOrder) next(nd *rnode) *rnode {
	if nd.next != nil {
		return nd.next
	}
	return h.scan((uint64(nd.hash) & h.mask) + 1)
}

func (h *rowOrder) scan(from uint64) *rnode {
	for i := from; i < uint64(len(h.buckets)); i++ {
		if h.buckets[i] != nil {
			return h.buckets[i]
		}
	}
	return nil
}
