package schema

import (
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// mutationValues are what a mutation puts somewhere in a schema.
var mutationValues = []string{
	`null`, `0`, `1`, `-1`, `2`, `1.5`, `"x"`, `""`, `"_a"`, `"a b"`, `"unlimited"`, `"strong"`, `"weak"`,
	`"integer"`, `"real"`, `"string"`, `"uuid"`, `"boolean"`, `"B"`, `"A"`, `"T"`, `"U"`, `"P"`, `true`, `false`,
	`[]`, `{}`, `["set",[]]`, `["set",[1]]`, `["set",["a"]]`, `[["a"]]`, `[["_uuid"]]`, `4294967295`, `4294967296`,
	`-9223372036854775808`, `1e308`, `"1.0.0"`, `"1.0"`,
}

var mutationMembers = []string{
	"min", "max", "key", "value", "type", "enum", "refTable", "refType", "minInteger", "maxReal",
	"minLength", "isRoot", "indexes", "maxRows", "mutable", "ephemeral",
}

// jsonPath addresses a value inside a decoded JSON document.
type jsonPath []any // string for object members, int for array elements

func allPaths(v any, p jsonPath, out *[]jsonPath) {
	*out = append(*out, p)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			allPaths(x[k], append(append(jsonPath(nil), p...), k), out)
		}
	case []any:
		for i, e := range x {
			allPaths(e, append(append(jsonPath(nil), p...), i), out)
		}
	}
}

// mutate changes one place of a deep copy of doc: replaces a value,
// deletes a member, or adds a member.
func mutate(t *testing.T, r *rand.Rand, doc string) string {
	t.Helper()
	v := decodeJSON(t, []byte(doc))
	var paths []jsonPath
	allPaths(v, nil, &paths)
	p := paths[1+r.IntN(len(paths)-1)]
	parent := v
	for _, k := range p[:len(p)-1] {
		switch x := parent.(type) {
		case map[string]any:
			parent = x[k.(string)]
		case []any:
			parent = x[k.(int)]
		}
	}
	newValue := decodeJSON(t, []byte(mutationValues[r.IntN(len(mutationValues))]))
	last := p[len(p)-1]
	switch x := parent.(type) {
	case map[string]any:
		switch c := r.Float64(); {
		case c < 0.6:
			x[last.(string)] = newValue
		case c < 0.8:
			delete(x, last.(string))
		default:
			x[mutationMembers[r.IntN(len(mutationMembers))]] = newValue
		}
	case []any:
		x[last.(int)] = newValue
	}
	return ovsdb.JSONString(v)
}

// TestParseMatchesOVSDBToolOnMutations feeds ovsdb-tool and Parse the same
// randomly (but reproducibly) mutated test schemas. Both must accept or
// both reject; an accepted schema must render exactly as ovsdb-tool
// stores it (the stored schema is ovsdb_schema_to_json, the function
// behind get_schema). Rejection details are compared by
// TestParseRejectsLikeOVSDBTool; here they may legitimately differ when a
// schema has two faults, since ovsdb-server visits columns in hash order.
func TestParseMatchesOVSDBToolOnMutations(t *testing.T) {
	if _, err := exec.LookPath("ovsdb-tool"); err != nil {
		t.Fatalf("ovsdb-tool not found (apt-get install -y openvswitch-common): %v", err)
	}
	const perSchema = 60
	dir := t.TempDir()
	accepted, rejected, detailDiffs := 0, 0, 0
	for i, base := range []string{"types", "roots", "legacy", "allroot"} {
		data, err := os.ReadFile("testdata/" + base + ".ovsschema")
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(i), 42))
		for n := range perSchema {
			doc := mutate(t, r, string(data))
			path := filepath.Join(dir, "s.ovsschema")
			dbPath := filepath.Join(dir, "db")
			_ = os.Remove(dbPath)
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			out, toolErr := exec.CommandContext(t.Context(), "ovsdb-tool", "create", dbPath, path).CombinedOutput()
			db, err := Parse([]byte(doc))
			switch {
			case toolErr == nil && err != nil:
				t.Errorf("%s #%d: ovsdb-tool accepts, Parse: %v\nschema: %s", base, n, err, doc)
			case toolErr != nil && err == nil:
				t.Errorf("%s #%d: Parse accepts, ovsdb-tool: %s\nschema: %s", base, n, out, doc)
			case toolErr == nil:
				accepted++
				stored, rerr := os.ReadFile(dbPath)
				if rerr != nil {
					t.Fatal(rerr)
				}
				lines := strings.SplitN(string(stored), "\n", 3)
				want := canon(decodeJSON(t, []byte(lines[1])))
				if got := canon(db.JSON()); got != want {
					t.Errorf("%s #%d: JSON differs\n got: %s\nwant: %s", base, n, got, want)
				}
			default:
				rejected++
				if !strings.HasSuffix(strings.TrimSpace(string(out)), ovsdb.AsError(err).Details) {
					detailDiffs++
				}
			}
		}
	}
	t.Logf("%d mutated schemas accepted by both with equal JSON, %d rejected by both (%d with other details)",
		accepted, rejected, detailDiffs)
	if detailDiffs*20 > rejected {
		t.Errorf("too many rejections with other details than ovsdb-tool's: %d of %d", detailDiffs, rejected)
	}
}
