package keys_test

import (
	"errors"
	"sort"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/keys"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustUUID(t *testing.T, s string) ovsdb.UUID {
	t.Helper()
	u, err := ovsdb.ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		service string
		want    string
		wantErr bool
	}{
		{name: "defaults", prefix: keys.DefaultPrefix, service: keys.DefaultService, want: "ovsdb/default/"},
		{name: "nested prefix", prefix: "a/b", service: "nb", want: "a/b/nb/"},
		{name: "empty prefix", prefix: "", service: "nb", wantErr: true},
		{name: "leading slash", prefix: "/ovsdb", service: "nb", wantErr: true},
		{name: "trailing slash", prefix: "ovsdb/", service: "nb", wantErr: true},
		{name: "double slash", prefix: "a//b", service: "nb", wantErr: true},
		{name: "dot element", prefix: "a/../b", service: "nb", wantErr: true},
		{name: "empty service", prefix: "ovsdb", service: "", wantErr: true},
		{name: "slash in service", prefix: "ovsdb", service: "a/b", wantErr: true},
		{name: "control char", prefix: "ovsdb", service: "a\nb", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := keys.New(tc.prefix, tc.service)
			if tc.wantErr {
				if !errors.Is(err, keys.ErrInvalidName) {
					t.Fatalf("New(%q, %q) error = %v, want ErrInvalidName", tc.prefix, tc.service, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q, %q): %v", tc.prefix, tc.service, err)
			}
			if got := l.Service(); got != tc.want {
				t.Errorf("Service() = %q, want %q", got, tc.want)
			}
		})
	}
	if got, want := keys.Default().Service(), "ovsdb/default/"; got != want {
		t.Errorf("Default().Service() = %q, want %q", got, want)
	}
}

func TestBuild(t *testing.T) {
	l := keys.Default()
	u := mustUUID(t, "6B0C2A5E-0f1d-4c55-9a8e-1b2c3d4e5f60")
	ts := time.Unix(1700000000, 123)
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "db", got: l.DB("OVN_Northbound"), want: "ovsdb/default/OVN_Northbound/"},
		{name: "table", got: l.Table("OVN_Northbound", "Logical_Switch"), want: "ovsdb/default/OVN_Northbound/Logical_Switch/"},
		{name: "row", got: l.Row("OVN_Northbound", "Logical_Switch", u), want: "ovsdb/default/OVN_Northbound/Logical_Switch/6b0c2a5e-0f1d-4c55-9a8e-1b2c3d4e5f60"},
		{name: "schema", got: l.Schema("OVN_Northbound"), want: "ovsdb/default/OVN_Northbound/_schema"},
		{name: "comments", got: l.Comments("db"), want: "ovsdb/default/db/_comments/"},
		{name: "comment", got: l.Comment("db", ts, 7), want: "ovsdb/default/db/_comments/01700000000000000123-000007"},
		{name: "locks", got: l.Locks(), want: "ovsdb/default/_/_locks/"},
		{name: "lock", got: l.Lock("ovn_northd"), want: "ovsdb/default/_/_locks/ovn_northd"},
		{name: "lock escaped", got: l.Lock("a/b%c"), want: "ovsdb/default/_/_locks/a%2Fb%25c"},
		{name: "lock waiters", got: l.LockWaiters("ovn_northd"), want: "ovsdb/default/_/_locks/ovn_northd/"},
		{name: "lock waiter", got: l.LockWaiter("ovn_northd", "694d9a3f-s1"), want: "ovsdb/default/_/_locks/ovn_northd/694d9a3f-s1"},
		{name: "txnengine", got: l.TxnEngine(), want: "ovsdb/default/_/_txnengine/"},
		{name: "election", got: l.Election(), want: "ovsdb/default/_/_txnengine/election"},
		{name: "marker", got: l.Marker(42), want: "ovsdb/default/_/_txnengine/batch/42"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestCommentOrder(t *testing.T) {
	l := keys.Default()
	base := time.Unix(1700000000, 0)
	in := []string{
		l.Comment("db", base.Add(time.Second), 0),
		l.Comment("db", base, 10),
		l.Comment("db", base, 2),
		l.Comment("db", base.Add(-time.Hour), 999),
	}
	want := []string{in[3], in[2], in[1], in[0]}
	sort.Strings(in)
	for i := range in {
		if in[i] != want[i] {
			t.Fatalf("sorted comments = %q, want %q", in, want)
		}
	}
	// Pruning by range: everything before base sorts below Comment(base, 0).
	if end := l.Comment("db", base, 0); want[0] >= end || want[1] < end {
		t.Errorf("range end %q does not split old from new comments %q", end, want)
	}
}

func TestParse(t *testing.T) {
	l, err := keys.New("p/q", "svc")
	if err != nil {
		t.Fatal(err)
	}
	u := mustUUID(t, "6b0c2a5e-0f1d-4c55-9a8e-1b2c3d4e5f60")
	tests := []struct {
		name    string
		key     string
		want    keys.Key
		wantErr bool
	}{
		{name: "row", key: l.Row("OVN_Southbound", "Chassis", u), want: keys.Key{Kind: keys.KindRow, DB: "OVN_Southbound", Table: "Chassis", UUID: u}},
		{name: "schema", key: l.Schema("db"), want: keys.Key{Kind: keys.KindSchema, DB: "db"}},
		{name: "comment", key: l.Comment("db", time.Unix(1, 0), 3), want: keys.Key{Kind: keys.KindComment, DB: "db", Name: "00000000001000000000-000003"}},
		{name: "commit", key: l.Commit("db"), want: keys.Key{Kind: keys.KindCommit, DB: "db"}},
		{name: "future reserved", key: "p/q/svc/db/_future", want: keys.Key{Kind: keys.KindUnknown, DB: "db"}},
		{name: "other service", key: "p/q/other/db/T/" + u.String(), wantErr: true},
		{name: "service dir", key: l.Lock("x"), wantErr: true},
		{name: "no table", key: "p/q/svc/db", wantErr: true},
		{name: "bad uuid", key: "p/q/svc/db/T/not-a-uuid", wantErr: true},
		{name: "extra element", key: "p/q/svc/db/T/" + u.String() + "/x", wantErr: true},
		{name: "empty table", key: "p/q/svc/db//" + u.String(), wantErr: true},
		{name: "empty comment", key: "p/q/svc/db/_comments/", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Parse(tc.key)
			if tc.wantErr {
				if !errors.Is(err, keys.ErrInvalidName) {
					t.Fatalf("Parse(%q) = %+v, %v; want ErrInvalidName", tc.key, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.key, err)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.key, got, tc.want)
			}
			if got.DB == "" {
				return
			}
			in, err := l.ParseIn(got.DB, tc.key)
			if err != nil || in != got {
				t.Errorf("ParseIn(%q, %q) = %+v, %v; want %+v", got.DB, tc.key, in, err, got)
			}
		})
	}
	if _, err := l.ParseIn("db", l.Schema("other")); !errors.Is(err, keys.ErrInvalidName) {
		t.Errorf("ParseIn of another database's key: err = %v, want ErrInvalidName", err)
	}
}

func TestParseRow(t *testing.T) {
	l := keys.Default()
	u := mustUUID(t, "00000000-0000-0000-0000-000000000001")
	db, table, got, err := l.ParseRow(l.Row("db", "T", u))
	if err != nil || db != "db" || table != "T" || got != u {
		t.Fatalf("ParseRow(Row) = %q, %q, %v, %v", db, table, got, err)
	}
	for _, key := range []string{l.Schema("db"), l.Comment("db", time.Unix(0, 0), 0), l.Lock("l"), "elsewhere"} {
		if _, _, _, err := l.ParseRow(key); !errors.Is(err, keys.ErrNotRow) {
			t.Errorf("ParseRow(%q) error = %v, want ErrNotRow", key, err)
		}
	}
}

func TestLockEscape(t *testing.T) {
	l := keys.Default()
	ids := []string{"ovn_northd", "", ".", "..", "a/b", "%", "%2F", "a\x00b\x7f", "ünïcode", "a.b"}
	seen := map[string]string{}
	for _, id := range ids {
		key := l.Lock(id)
		if prev, dup := seen[key]; dup {
			t.Errorf("Lock(%q) = Lock(%q) = %q", id, prev, key)
		}
		seen[key] = id
		got, ok := l.ParseLock(key)
		if !ok || got != id {
			t.Errorf("ParseLock(Lock(%q)) = %q, %v", id, got, ok)
		}
		if err := keys.CheckName(keys.EscapeLock(id)); err != nil {
			t.Errorf("EscapeLock(%q) = %q is not a valid key element: %v", id, keys.EscapeLock(id), err)
		}
	}
	for _, key := range []string{l.LockWaiter("a", "w"), l.Locks(), l.Schema("db"), l.Locks() + "%zz", l.Locks() + "ab%2"} {
		if id, ok := l.ParseLock(key); ok {
			t.Errorf("ParseLock(%q) = %q, true; want false", key, id)
		}
	}
}

func TestCheckDB(t *testing.T) {
	tests := []struct {
		db string
		ok bool
	}{
		{db: "OVN_Northbound", ok: true},
		{db: "_Server", ok: true},
		{db: "_", ok: false},
		{db: "", ok: false},
		{db: "a/b", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.db, func(t *testing.T) {
			if err := keys.CheckDB(tc.db); (err == nil) != tc.ok {
				t.Errorf("CheckDB(%q) = %v, want ok=%v", tc.db, err, tc.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	l := keys.Default()
	f.Add("ovsdb/default/db/T/6b0c2a5e-0f1d-4c55-9a8e-1b2c3d4e5f60")
	f.Add("ovsdb/default/db/_schema")
	f.Add("ovsdb/default/_/_locks/x")
	f.Fuzz(func(t *testing.T, key string) {
		k, err := l.Parse(key)
		if err != nil || k.Kind != keys.KindRow {
			return
		}
		if back := l.Row(k.DB, k.Table, k.UUID); back != key && !equalFoldUUID(back, key) {
			t.Errorf("Row(Parse(%q)) = %q", key, back)
		}
	})
}

// equalFoldUUID reports whether a and b differ only in the case of the
// UUID, which ParseUUID accepts in either case.
func equalFoldUUID(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca >= 'A' && ca <= 'F' {
			ca += 'a' - 'A'
		}
		if cb >= 'A' && cb <= 'F' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
