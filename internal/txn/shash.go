package txn

import (
	"encoding/binary"
	"math/bits"
	"sort"
)

// ovsdb-server walks JSON objects and a table's columns in the iteration
// order of its string hash map (lib/shash.c over lib/hmap.c, keyed by
// hash_string(name, 0)), and that order decides which of several errors it
// reports and how it words a duplicate index. This file reproduces that
// order. Where two names share a bucket their order also depends on the
// order of insertion, which for a client's JSON text is lost once decoded;
// byte order of the names stands in for it.

func mhashAdd(h, d uint32) uint32 {
	if d != 0 {
		d *= 0xcc9e2d51
		d = bits.RotateLeft32(d, 15)
		d *= 0x1b873593
		h ^= d
	}
	h = bits.RotateLeft32(h, 13)
	return h*5 + 0xe6546b64
}

func mhashFinish(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// hashString is ovs hash_string(s, 0) (murmur3-based hash_bytes).
func hashString(s string) uint32 {
	var h uint32
	n := len(s)
	for len(s) >= 4 {
		h = mhashAdd(h, binary.LittleEndian.Uint32([]byte(s[:4])))
		s = s[4:]
	}
	if len(s) > 0 {
		var t [4]byte
		copy(t[:], s)
		h = mhashAdd(h, binary.LittleEndian.Uint32(t[:]))
	}
	return mhashFinish(h ^ uint32(n))
}

type hnode struct {
	name string
	hash uint32
	next *hnode
}

// hashOrder returns the names in the iteration order of an ovs hmap into
// which they were inserted in the given order.
func hashOrder(names []string) []string {
	buckets := []*hnode{nil}
	var mask uint64
	n := 0
	for _, name := range names {
		nd := &hnode{name: name, hash: hashString(name)}
		b := uint64(nd.hash) & mask
		nd.next = buckets[b]
		buckets[b] = nd
		n++
		if uint64(n)/2 > mask {
			if m := calcMask(uint64(n)); m > mask {
				old := buckets
				buckets = make([]*hnode, m+1)
				mask = m
				for _, head := range old {
					for x := head; x != nil; {
						next := x.next
						bb := uint64(x.hash) & mask
						x.next = buckets[bb]
						buckets[bb] = x
						x = next
					}
				}
			}
		}
	}
	out := make([]string, 0, len(names))
	for _, head := range buckets {
		for x := head; x != nil; x = x.next {
			out = append(out, x.name)
		}
	}
	return out
}

func calcMask(c uint64) uint64 {
	m := c / 2
	m |= m >> 1
	m |= m >> 2
	m |= m >> 4
	m |= m >> 8
	m |= m >> 16
	m |= m >> 32
	m |= (m & 1) << 1
	return m
}

// objectOrder is the iteration order of a JSON object's members as
// ovsdb-server parsed it.
func objectOrder(obj map[string]any) []string {
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) < 2 {
		return names
	}
	return hashOrder(names)
}

// columnOrder is the iteration order of a table schema's columns in
// ovsdb-server: "_uuid" and "_version" are inserted first, then the user
// columns as read from the schema stored in the database file, which
// ovsdb-tool itself wrote in hash order.
func columnOrder(userCols []string) []string {
	std := []string{"_uuid", "_version"}
	user := hashOrder(userCols)
	all := hashOrder(append(append([]string{}, std...), user...))
	user = user[:0]
	for _, c := range all {
		if c != "_uuid" && c != "_version" {
			user = append(user, c)
		}
	}
	user = hashOrder(hashOrder(user))
	return hashOrder(append(append([]string{}, std...), user...))
}
