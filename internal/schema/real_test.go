package schema

import (
	"os"
	"testing"
)

// realSchemas are the schemas of the Debian packages the project targets.
var realSchemas = []string{
	"/usr/share/ovn/ovn-nb.ovsschema",
	"/usr/share/ovn/ovn-sb.ovsschema",
	"/usr/share/openvswitch/vswitch.ovsschema",
}

func TestParseRealSchemas(t *testing.T) {
	for _, path := range realSchemas {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read schema (install ovn-central and openvswitch-common): %v", err)
			}
			db, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if db.Name == "" || db.Version == "" || len(db.Tables) == 0 {
				t.Fatalf("Parse returned %q version %q with %d tables", db.Name, db.Version, len(db.Tables))
			}
			for name, tbl := range db.Tables {
				for _, c := range []string{ColumnUUID, ColumnVersion} {
					if tbl.Columns[c] == nil {
						t.Errorf("table %s has no %s column", name, c)
					}
				}
			}
		})
	}
}
