package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
)

const callTimeout = 10 * time.Second

// decodeJSON decodes text with UseNumber, as the rest of the project does.
func decodeJSON(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// canon renders a JSON value in ovsdb-server's own text (sorted members,
// normalized numbers), so that parsed values compare as text.
func canon(v any) string { return ovsdb.JSONString(v) }

func testSchemaFiles(t *testing.T) []string {
	t.Helper()
	local, err := filepath.Glob("testdata/*.ovsschema")
	if err != nil || len(local) == 0 {
		t.Fatalf("no test schemas: %v", err)
	}
	return append(append([]string(nil), realSchemas...), local...)
}

// TestSchemaJSONMatchesServer checks Database.JSON against get_schema of
// the real ovsdb-server serving the same schema files.
func TestSchemaJSONMatchesServer(t *testing.T) {
	files := testSchemaFiles(t)
	srv := refserver.Start(t, refserver.Options{Schemas: files})
	ctx := t.Context()
	c := srv.Dial(ctx)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			db, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			cctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			raw, err := c.Call(cctx, "get_schema", db.Name)
			if err != nil {
				t.Fatalf("get_schema %s: %v", db.Name, err)
			}
			want := canon(decodeJSON(t, raw))
			if got := canon(db.JSON()); got != want {
				t.Errorf("JSON() differs from ovsdb-server's get_schema\n got: %s\nwant: %s", got, want)
			}
			// A rendered schema parses back to the same rendering.
			again, err := FromJSON(decodeJSON(t, []byte(canon(db.JSON()))))
			if err != nil {
				t.Fatalf("reparse rendered schema: %v", err)
			}
			if got := canon(again.JSON()); got != want {
				t.Errorf("reparsed schema renders differently\n got: %s\nwant: %s", got, want)
			}
		})
	}
}
