package frontend

import (
	"encoding/binary"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// txnID is the last-txn-id of monitor_cond_since and update3 for etcd
// revision rev (DESIGN.md "Transaction ids"): the first 8 bytes are the
// etcd cluster id, the last 8 the revision, both big-endian, so every
// frontend of one cluster computes the same id and decodes it back.
// It is never all-zero for rev > 0.
func txnID(clusterID uint64, rev int64) ovsdb.UUID {
	var u ovsdb.UUID
	binary.BigEndian.PutUint64(u[:8], clusterID)
	binary.BigEndian.PutUint64(u[8:], uint64(rev))
	return u
}

// txnRev decodes a txnID of this cluster; ok is false for any other id
// (the all-zero id of a client that has seen nothing, or another
// cluster's).
func txnRev(clusterID uint64, u ovsdb.UUID) (rev int64, ok bool) {
	if binary.BigEndian.Uint64(u[:8]) != clusterID {
		return 0, false
	}
	rev = int64(binary.BigEndian.Uint64(u[8:]))
	return rev, rev > 0
}
