package monitorhub

import (
	"sort"

	monitorhubv1 "github.com/ovsdb-etcd/ovsdb-etcd/proto/ovsdbetcd/monitorhub/v1"
)

// Row is one row as stored in etcd.
type Row struct {
	Table string
	UUID  string
	Value []byte
}

// Change is one row's change in one revision: Old is nil for an insert,
// New is nil for a delete.
type Change struct {
	Table    string
	UUID     string
	Old, New []byte
}

// Update is the net change of one etcd revision of one database. It is
// immutable once published and shared by every subscriber.
//
// Its changes are kept once, in the message sent to every subscriber
// (Changes builds the Go form on demand): the history holds every change
// of its window, so a second copy per change would cost about 80 bytes
// each, 8 MB for a 100,000-row load.
type Update struct {
	Rev int64
	// PrevRev is the revision the database was current at before Rev.
	// For an ordinary update the database did not change in
	// [PrevRev, Rev), so a subscriber may resume from any revision in
	// that range; for a resync only PrevRev itself is a resume point.
	PrevRev int64

	resync bool
	size   int64
	msg    *monitorhubv1.WatchResponse // built once, sent to every subscriber
}

// changeOverhead is what one change costs in the history besides its
// row values: its RowChange message, the pointer to it and its UUID
// string (the table name is interned).
const changeOverhead = 200

func newUpdate(rev, prevRev int64, changes []Change, resync bool) *Update {
	u := &Update{Rev: rev, PrevRev: prevRev, resync: resync}
	slab := make([]monitorhubv1.RowChange, len(changes)) // one allocation
	pc := make([]*monitorhubv1.RowChange, len(changes))
	for i, c := range changes {
		// Old and New are counted in full although New is shared with
		// the current rows until the row changes again: the bound errs on
		// the safe side.
		u.size += int64(len(c.Old) + len(c.New) + changeOverhead)
		r := &slab[i]
		r.Table, r.Uuid, r.Old, r.New = c.Table, c.UUID, c.Old, c.New
		pc[i] = r
	}
	u.msg = &monitorhubv1.WatchResponse{Event: &monitorhubv1.WatchResponse_Update{
		Update: &monitorhubv1.Update{Revision: rev, Changes: pc},
	}}
	return u
}

// wire returns the message to send: msg, or a copy without the old row
// values (sharing the new ones). The copy is made per send, not kept: the
// history would hold every update twice, and a hub has few subscribers
// (one per frontend and database).
func (u *Update) wire(omitOld bool) *monitorhubv1.WatchResponse {
	if !omitOld {
		return u.msg
	}
	pc := u.msg.GetUpdate().GetChanges()
	slab := make([]monitorhubv1.RowChange, len(pc))
	out := make([]*monitorhubv1.RowChange, len(pc))
	for i, c := range pc {
		r := &slab[i]
		r.Table, r.Uuid, r.New = c.GetTable(), c.GetUuid(), c.GetNew()
		out[i] = r
	}
	return &monitorhubv1.WatchResponse{Event: &monitorhubv1.WatchResponse_Update{
		Update: &monitorhubv1.Update{Revision: u.Rev, Changes: out},
	}}
}

// Len is the number of changed rows.
func (u *Update) Len() int { return len(u.msg.GetUpdate().GetChanges()) }

// Changes returns the changed rows (a new slice; the byte slices are
// shared and must not be modified).
func (u *Update) Changes() []Change {
	pc := u.msg.GetUpdate().GetChanges()
	out := make([]Change, len(pc))
	for i, c := range pc {
		out[i] = Change{Table: c.GetTable(), UUID: c.GetUuid(), Old: c.GetOld(), New: c.GetNew()}
	}
	return out
}

// history is the window of recent updates of one database, in ascending
// revision order. It is guarded by its database's mu.
type history struct {
	entries []*Update // entries[start:] are live
	start   int
	bytes   int64
}

func (h *history) len() int { return len(h.entries) - h.start }

func (h *history) push(u *Update) {
	h.entries = append(h.entries, u)
	h.bytes += u.size
}

// popFront drops and returns the oldest update.
func (h *history) popFront() *Update {
	u := h.entries[h.start]
	h.entries[h.start] = nil
	h.start++
	h.bytes -= u.size
	if h.start >= 1024 && h.start*2 >= len(h.entries) {
		n := copy(h.entries, h.entries[h.start:])
		clear(h.entries[n:])
		h.entries = h.entries[:n]
		h.start = 0
	}
	return u
}

// indexAfter is the index in entries of the first update with Rev > rev.
func (h *history) indexAfter(rev int64) int {
	live := h.entries[h.start:]
	return h.start + sort.Search(len(live), func(i int) bool { return live[i].Rev > rev })
}

// after returns up to n updates with Rev > rev (a copy of the slice, so
// the caller may use it without the lock).
func (h *history) after(rev int64, n int) []*Update {
	i := h.indexAfter(rev)
	j := min(len(h.entries), i+n)
	return append([]*Update(nil), h.entries[i:j]...)
}

// countAfter is the number of updates with Rev > rev.
func (h *history) countAfter(rev int64) int {
	return len(h.entries) - h.indexAfter(rev)
}

// firstAfter is the first update with Rev > rev, or nil.
func (h *history) firstAfter(rev int64) *Update {
	i := h.indexAfter(rev)
	if i == len(h.entries) {
		return nil
	}
	return h.entries[i]
}
