package schema

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/ovsdb"
)

// randomValue builds a reproducible random JSON value that is often close
// to valid OVSDB notation, to probe ParseDatum's error paths.
func randomValue(r *rand.Rand, depth int) string {
	atoms := []string{
		`0`, `1`, `-1`, `2`, `3`, `5`, `10`, `11`, `1.5`, `0.5`, `-2.5`, `1e3`, `2.0`, `9223372036854775807`,
		`1e400`, `true`, `false`, `null`, `""`, `"a"`, `"ab"`, `"red"`, `"green"`, `"only"`, `"a b"`, `"abcde"`,
		`"set"`, `"map"`, `"uuid"`, `"named-uuid"`, `"\u00e9\u00e9\u00e9"`, `"01234567-89ab-cdef-0123-456789abcdef"`,
		`["uuid","01234567-89ab-cdef-0123-456789abcdef"]`, `["uuid","00000000-0000-0000-0000-000000000001"]`,
		`["uuid","bad"]`, `["named-uuid","n1"]`, `["named-uuid","9"]`, `{}`, `{"a":1}`,
	}
	if depth > 2 || r.IntN(3) == 0 {
		return atoms[r.IntN(len(atoms))]
	}
	n := r.IntN(4)
	elems := make([]string, n)
	for i := range elems {
		elems[i] = randomValue(r, depth+1)
	}
	list := "[" + strings.Join(elems, ",") + "]"
	switch r.IntN(5) {
	case 0:
		return `["set",` + list + `]`
	case 1:
		pairs := make([]string, n)
		for i := range pairs {
			pairs[i] = "[" + randomValue(r, depth+2) + "," + randomValue(r, depth+2) + "]"
		}
		return `["map",[` + strings.Join(pairs, ",") + `]]`
	case 2:
		return `["set",` + randomValue(r, depth+1) + `]`
	default:
		return list
	}
}

// TestRandomValuesMatchServer sends reproducible random values for every
// column of types.ovsschema's table A to ovsdb-server and ParseDatum.
func TestRandomValuesMatchServer(t *testing.T) {
	tbl, c := startDM(t)
	r := rand.New(rand.NewPCG(7, 7))
	const n = 1500
	rejected := 0
	for i := range n {
		col := tbl.ColumnNames[r.IntN(len(tbl.ColumnNames))]
		if col == "ref" || col == "wref" {
			continue // references are checked at commit time, by the executor
		}
		value := randomValue(r, 0)
		if strings.Contains(value, "1e400") {
			continue // ovsdb-server's JSON parser rejects the whole request
		}
		reply := transact(t, c, fmt.Sprintf(`{"op":"insert","table":"A","row":{%q:%s},"uuid-name":"row"},`+
			`{"op":"select","table":"A","where":[["_uuid","==",["named-uuid","row"]]],"columns":[%q]}`, col, value, col))
		first, _ := reply[0].(map[string]any)
		got, err := ovsdb.ParseDatum(tbl.Columns[col].Type, decodeJSON(t, []byte(value)), anySymbols{})
		if _, failed := first["error"]; failed {
			rejected++
			if err == nil {
				t.Errorf("#%d %s = %s: server rejected it with %s, ParseDatum accepted %v", i, col, value, canon(first), got)
			} else if g, w := canon(ovsdb.AsError(err).JSON()), canon(first); g != w {
				t.Errorf("#%d %s = %s: error\n got: %s\nwant: %s", i, col, value, g, w)
			}
		} else if err != nil {
			t.Errorf("#%d %s = %s: server accepted it, ParseDatum: %v", i, col, value, err)
		} else if !strings.Contains(value, "named-uuid") {
			rows := reply[1].(map[string]any)["rows"].([]any)
			want := canon(rows[0].(map[string]any)[col])
			if g := canon(ovsdb.DatumJSON(tbl.Columns[col].Type, got)); g != want {
				t.Errorf("#%d %s = %s: stored\n got: %s\nwant: %s", i, col, value, g, want)
			}
		}
	}
	t.Logf("%d random values compared with ovsdb-server, %d rejected", n, rejected)
}
