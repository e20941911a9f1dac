package keys

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// Defaults of the --prefix and --service flags.
const (
	DefaultPrefix  = "ovsdb"
	DefaultService = "default"
)

// Reserved names under a database and under a service.
const (
	schemaName   = "_schema"
	commentsName = "_comments"
	commitName   = "_commit"
	serviceDir   = "_"
	locksName    = "_locks"
	txnengName   = "_txnengine"
)

// ErrInvalidName is returned for a prefix, service or database name that
// cannot be used in a key.
var ErrInvalidName = errors.New("keys: invalid name")

// ErrNotRow is returned by ParseRow for a key that is not a row key of the
// layout.
var ErrNotRow = errors.New("keys: not a row key")

// Layout builds the keys of one <prefix>/<service>. The zero value is not
// usable; build one with New.
type Layout struct {
	base string // "<prefix>/<service>/"
}

// New returns the layout of prefix and service. The prefix may contain
// inner slashes ("a/b") but neither may be empty, start or end with a
// slash, or contain an empty path element; the service must not contain a
// slash.
func New(prefix, service string) (Layout, error) {
	if err := checkPath(prefix); err != nil {
		return Layout{}, fmt.Errorf("prefix %q: %w", prefix, err)
	}
	if err := CheckName(service); err != nil {
		return Layout{}, fmt.Errorf("service %q: %w", service, err)
	}
	return Layout{base: prefix + "/" + service + "/"}, nil
}

// Default returns the layout of DefaultPrefix and DefaultService.
func Default() Layout {
	return Layout{base: DefaultPrefix + "/" + DefaultService + "/"}
}

// CheckName reports whether name can be one path element of a key: not
// empty, no slash, not "." or "..", and no control characters.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("%w: contains '/'", ErrInvalidName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: contains control character", ErrInvalidName)
		}
	}
	return nil
}

// CheckDB reports whether db can be a database name in a key: a valid
// name other than the reserved "_".
func CheckDB(db string) error {
	if db == serviceDir {
		return fmt.Errorf("%w: database name %q is reserved", ErrInvalidName, db)
	}
	return CheckName(db)
}

func checkPath(p string) error {
	for elem := range strings.SplitSeq(p, "/") {
		if err := CheckName(elem); err != nil {
			return err
		}
	}
	return nil
}

// Service is "<prefix>/<service>/": every key of the service starts with it.
func (l Layout) Service() string { return l.base }

// DB is "<prefix>/<service>/<db>/", the prefix of every key of database db
// (the monitorhub watches it). The caller has checked db with CheckDB.
func (l Layout) DB(db string) string { return l.base + db + "/" }

// Table is "<prefix>/<service>/<db>/<table>/", the prefix of the rows of
// one table.
func (l Layout) Table(db, table string) string { return l.base + db + "/" + table + "/" }

// Row is "<prefix>/<service>/<db>/<table>/<uuid>".
func (l Layout) Row(db, table string, uuid ovsdb.UUID) string {
	return l.base + db + "/" + table + "/" + uuid.String()
}

// Schema is "<prefix>/<service>/<db>/_schema".
func (l Layout) Schema(db string) string { return l.base + db + "/" + schemaName }

// Commit is "<prefix>/<service>/<db>/_commit". The txnengine puts it in
// every etcd Txn that changes db, so its ModRevision is db's last commit
// revision: one linearizable Get of it tells a frontend which revision its
// feed must reach before a new monitor's initial state includes every
// acknowledged transaction (etcd's own revision counts all databases).
func (l Layout) Commit(db string) string { return l.base + db + "/" + commitName }

// Comments is "<prefix>/<service>/<db>/_comments/", the prefix of the
// comments of db.
func (l Layout) Comments(db string) string { return l.base + db + "/" + commentsName + "/" }

// Comment is the key of the n-th comment of a batch committed at ts:
// "<prefix>/<service>/<db>/_comments/<unix-nanos>-<n>", both numbers zero
// padded so that keys sort by time, then n. Pruning comments older than t
// is a range delete from Comments(db) to Comment(db, t, 0).
func (l Layout) Comment(db string, ts time.Time, n int) string {
	var b strings.Builder
	b.Grow(len(l.base) + len(db) + len(commentsName) + 2 + 20 + 1 + 6 + 1)
	b.WriteString(l.Comments(db))
	writePadded(&b, ts.UnixNano(), 20)
	b.WriteByte('-')
	writePadded(&b, int64(n), 6)
	return b.String()
}

func writePadded(b *strings.Builder, v int64, width int) {
	if v < 0 {
		v = 0
	}
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		b.WriteByte('0')
	}
	b.WriteString(s)
}

// Locks is "<prefix>/<service>/_/_locks/", the prefix of every lock key of
// the service (the txnengine and the frontends watch it).
func (l Layout) Locks() string { return l.base + serviceDir + "/" + locksName + "/" }

// Lock is "<prefix>/<service>/_/_locks/<lockid>", the key of the owner of
// OVSDB lock id. The id is escaped (see EscapeLock).
func (l Layout) Lock(id string) string { return l.Locks() + EscapeLock(id) }

// LockWaiters is "<prefix>/<service>/_/_locks/<lockid>/", the prefix of
// the waiter keys of lock id.
func (l Layout) LockWaiters(id string) string { return l.Lock(id) + "/" }

// LockWaiter is the key of one waiter of lock id; waiter is an opaque
// name chosen by the frontend (for example its lease id and session id)
// and must pass CheckName.
func (l Layout) LockWaiter(id, waiter string) string { return l.LockWaiters(id) + waiter }

// ParseLock returns the lock id of an owner key built by Lock, and whether
// key is one; waiter keys and other keys give ok false.
func (l Layout) ParseLock(key string) (id string, ok bool) {
	rest, found := strings.CutPrefix(key, l.Locks())
	if !found || rest == "" || strings.ContainsRune(rest, '/') {
		return "", false
	}
	id, err := UnescapeLock(rest)
	if err != nil {
		return "", false
	}
	return id, true
}

// TxnEngine is "<prefix>/<service>/_/_txnengine/", the prefix of the
// txnengine's keys.
func (l Layout) TxnEngine() string { return l.base + serviceDir + "/" + txnengName + "/" }

// Election is the prefix to pass to concurrency.NewElection (which appends
// its own slash): "<prefix>/<service>/_/_txnengine/election".
func (l Layout) Election() string { return l.TxnEngine() + "election" }

// Marker is "<prefix>/<service>/_/_txnengine/batch/<leaderRev>", the key
// each batch Txn of one leader term writes, so that a leader can resolve a
// Txn whose answer it did not get.
func (l Layout) Marker(leaderRev int64) string {
	return l.TxnEngine() + "batch/" + strconv.FormatInt(leaderRev, 10)
}

// Kind says what a key under a database prefix is.
type Kind int

// Kinds of database keys.
const (
	KindUnknown Kind = iota
	KindRow
	KindSchema
	KindComment
	KindCommit
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindRow:
		return "row"
	case KindSchema:
		return "schema"
	case KindComment:
		return "comment"
	case KindCommit:
		return "commit"
	default:
		return "unknown"
	}
}

// Key is a parsed database key.
type Key struct {
	Kind  Kind
	DB    string
	Table string     // KindRow only
	UUID  ovsdb.UUID // KindRow only
	Name  string     // KindComment only: "<ts>-<n>"
}

// Parse splits a key of this layout under some database into its parts.
// Keys outside the service, the "_" directory, and malformed keys give an
// error wrapping ErrInvalidName; keys under a database that are none of the
// known kinds give Kind KindUnknown and no error, so that a watcher can
// skip keys written by a newer version.
func (l Layout) Parse(key string) (Key, error) {
	rest, found := strings.CutPrefix(key, l.base)
	if !found {
		return Key{}, fmt.Errorf("%w: key %q is outside %q", ErrInvalidName, key, l.base)
	}
	db, rest, found := strings.Cut(rest, "/")
	if !found || CheckDB(db) != nil {
		return Key{}, fmt.Errorf("%w: key %q is not under a database", ErrInvalidName, key)
	}
	return parseInDB(key, db, rest)
}

// ParseIn is Parse for a key known to be under DB(db), as a watch on that
// prefix delivers; it avoids re-deriving the database name.
func (l Layout) ParseIn(db, key string) (Key, error) {
	rest, found := strings.CutPrefix(key, l.DB(db))
	if !found {
		return Key{}, fmt.Errorf("%w: key %q is outside %q", ErrInvalidName, key, l.DB(db))
	}
	return parseInDB(key, db, rest)
}

func parseInDB(key, db, rest string) (Key, error) {
	if rest == schemaName {
		return Key{Kind: KindSchema, DB: db}, nil
	}
	if rest == commitName {
		return Key{Kind: KindCommit, DB: db}, nil
	}
	if name, ok := strings.CutPrefix(rest, commentsName+"/"); ok {
		if name == "" || strings.ContainsRune(name, '/') {
			return Key{}, fmt.Errorf("%w: malformed comment key %q", ErrInvalidName, key)
		}
		return Key{Kind: KindComment, DB: db, Name: name}, nil
	}
	if strings.HasPrefix(rest, "_") {
		return Key{Kind: KindUnknown, DB: db}, nil
	}
	table, id, found := strings.Cut(rest, "/")
	if !found || table == "" {
		return Key{}, fmt.Errorf("%w: malformed row key %q", ErrInvalidName, key)
	}
	u, err := ovsdb.ParseUUID(id)
	if err != nil {
		return Key{}, fmt.Errorf("%w: malformed row key %q: %w", ErrInvalidName, key, err)
	}
	return Key{Kind: KindRow, DB: db, Table: table, UUID: u}, nil
}

// ParseRow splits a row key back into database, table and UUID. Any other
// key gives an error wrapping ErrNotRow.
func (l Layout) ParseRow(key string) (db, table string, uuid ovsdb.UUID, err error) {
	k, err := l.Parse(key)
	if err != nil {
		return "", "", ovsdb.UUID{}, fmt.Errorf("%w: %w", ErrNotRow, err)
	}
	if k.Kind != KindRow {
		return "", "", ovsdb.UUID{}, fmt.Errorf("%w: key %q is a %s key", ErrNotRow, key, k.Kind)
	}
	return k.DB, k.Table, k.UUID, nil
}

// EscapeLock makes an OVSDB lock id usable as one key element: '%' becomes
// "%25", '/' becomes "%2F" and control characters become %XX. Other bytes,
// including any UTF-8, stay as they are, so common ids ("ovn_northd") are
// readable in etcdctl.
func EscapeLock(id string) string {
	if id == "" {
		return "%"
	}
	need := false
	for i := 0; i < len(id); i++ {
		if escapeByte(id[i]) {
			need = true
			break
		}
	}
	if !need && id != "." && id != ".." {
		return id
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if escapeByte(c) || c == '.' && (id == "." || id == "..") {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func escapeByte(c byte) bool { return c == '%' || c == '/' || c < 0x20 || c == 0x7f }

// UnescapeLock reverses EscapeLock.
func UnescapeLock(s string) (string, error) {
	if s == "%" {
		return "", nil
	}
	if !strings.ContainsRune(s, '%') {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: bad escape in lock key %q", ErrInvalidName, s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%w: bad escape in lock key %q", ErrInvalidName, s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}
