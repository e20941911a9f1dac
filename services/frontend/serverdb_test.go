package frontend

import (
	"bytes"
	"log/slog"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
)

// newOVNServerDB builds _Server for the OVN Northbound and Southbound
// databases.
func newOVNServerDB(tb testing.TB) (*serverDB, map[string]*database) {
	tb.Helper()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	dbs := map[string]*database{}
	for _, p := range []string{"/usr/share/ovn/ovn-nb.ovsschema", "/usr/share/ovn/ovn-sb.ovsschema"} {
		raw, rerr := os.ReadFile(p)
		if rerr != nil {
			tb.Fatal(rerr)
		}
		sch, perr := schema.Parse(raw)
		if perr != nil {
			tb.Fatal(perr)
		}
		js, merr := marshal(sch.JSON())
		if merr != nil {
			tb.Fatal(merr)
		}
		dbs[sch.Name] = &database{name: sch.Name, schema: sch, schemaJSON: js, feed: newFeed(sch.Name, sch, log, 0, 0, m)}
	}
	sdb, err := newServerDB(uuid.New(), 1, dbs, log, m)
	if err != nil {
		tb.Fatal(err)
	}
	return sdb, dbs
}

// BenchmarkServerDBNoteCommit measures what a commit through the frontend
// costs _Server before its reply (the new index of the OVN Northbound row),
// with the OVN schemas, whose text is in every Database row.
func BenchmarkServerDBNoteCommit(b *testing.B) {
	sdb, dbs := newOVNServerDB(b)
	sdb.refresh()
	nb := dbs["OVN_Northbound"]
	b.ReportAllocs()
	for rev := int64(2); b.Loop(); rev++ {
		nb.feed.noteCommitted(rev)
		sdb.noteCommit(nb.name, rev)
	}
}

// TestServerDBEncodeRowSplice checks that encodeRow, which splices in the
// schema text's encoding, gives the row codec's exact bytes for every
// Database row, with the OVN schemas' texts.
func TestServerDBEncodeRowSplice(t *testing.T) {
	sdb, dbs := newOVNServerDB(t)
	sdb.refresh()
	sdb.mu.Lock()
	defer sdb.mu.Unlock()
	if len(sdb.published) != len(dbs) {
		t.Fatalf("%d rows published, want %d", len(sdb.published), len(dbs))
	}
	for name, row := range sdb.published {
		want, err := sdb.db.schema.Tables["Database"].EncodeRow(row)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sdb.encodeRow(row)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("row of %s: encodeRow differs from EncodeRow (%d vs %d bytes)", name, len(got), len(want))
		}
	}
}
