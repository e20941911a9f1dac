package ovn

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// uuidRE matches a UUID anywhere in text.
var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// zeroUUID is the all-zero UUID, never a valid transaction id once the
// database exists.
const zeroUUID = "00000000-0000-0000-0000-000000000000"

// decode parses JSON into generic values and fails the test on error.
func decode(t testing.TB, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// canon returns v as JSON text with map keys sorted (encoding/json sorts
// them), for comparing and printing.
func canon(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// blankUUIDs replaces every UUID inside v (in strings, ["uuid",..] and
// ["named-uuid",..] values and map keys) by "<uuid>".
func blankUUIDs(v any) any {
	switch x := v.(type) {
	case string:
		return uuidRE.ReplaceAllString(x, "<uuid>")
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = blankUUIDs(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[uuidRE.ReplaceAllString(k, "<uuid>")] = blankUUIDs(e)
		}
		return out
	default:
		return v
	}
}

// namedRows turns an update2/update3 body {table: {uuid: {op: row}}} into
// {table: [ "op name row" ...]} sorted, naming each row by its "name"
// column, learned into names from inserts, initials and modifies, so that
// deletes (which carry no row) are named too.
func namedRows(body map[string]any, names map[string]string) map[string][]string {
	out := map[string][]string{}
	for table, rows := range body {
		rm, _ := rows.(map[string]any)
		for uuid, ch := range rm {
			cm, _ := ch.(map[string]any)
			for _, row := range cm {
				if r, ok := row.(map[string]any); ok {
					if n, ok := r["name"].(string); ok {
						names[uuid] = n
					}
				}
			}
			name, ok := names[uuid]
			if !ok {
				name = "<unknown>"
			}
			for op, row := range cm {
				out[table] = append(out[table], op+" "+name+" "+canon(blankUUIDs(row)))
			}
		}
		sort.Strings(out[table])
	}
	return out
}

// sortedLines returns the lines of s sorted, without empty lines.
func sortedLines(s string) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// diffJSON lists the paths at which the generic JSON values a and b
// differ, at most limit of them.
func diffJSON(a, b any, path string, limit int) []string {
	var out []string
	var walk func(a, b any, path string)
	walk = func(a, b any, path string) {
		if len(out) >= limit {
			return
		}
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok && bok {
			keys := map[string]bool{}
			for k := range am {
				keys[k] = true
			}
			for k := range bm {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				av, ain := am[k]
				bv, bin := bm[k]
				switch {
				case !ain:
					out = append(out, path+"/"+k+": only in ovsdb-etcd: "+trunc(canon(bv)))
				case !bin:
					out = append(out, path+"/"+k+": only in ovsdb-server: "+trunc(canon(av)))
				default:
					walk(av, bv, path+"/"+k)
				}
				if len(out) >= limit {
					return
				}
			}
			return
		}
		if ca, cb := canon(a), canon(b); ca != cb {
			out = append(out, path+": ovsdb-server "+trunc(ca)+" vs ovsdb-etcd "+trunc(cb))
		}
	}
	walk(a, b, path)
	return out
}

func trunc(s string) string {
	const maxLen = 300
	if len(s) > maxLen {
		return s[:maxLen] + "..."
	}
	return s
}
