package txn_test

// The differential suite of issue 3: every transaction in
// testdata/diff/*.json is replayed against the real ovsdb-server (started
// by refserver in this run) and against txn.Execute, and the whole replies
// are compared after normalizing UUIDs and row order. Expected replies come
// only from ovsdb-server.
//
// A case file is
//
//	{
//	  "description": "...",
//	  "schema": "types.ovsschema",            // relative to testdata/diff, or absolute
//	  "cases": [
//	    {"name": "insert-scalar", "feature": "insert", "ops": [...],
//	     "locks": ["L"]},                      // locks the session holds (for assert)
//	    ...
//	  ]
//	}
//
// Cases of one file run in order against one fresh database. Inside "ops",
// ["uuid", "@name"] stands for the UUID that an earlier insert with
// "uuid-name": "name" got on the same side, so later transactions can refer
// to server-generated UUIDs. A case runs even when -run filters its subtest
// out, so the database state never depends on the filter.
//
// Run with -v to see the per-feature summary; DIFF_SHOW=1 also logs every
// ovsdb-server reply.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ovsdb-etcd/ovsdb-etcd/internal/jsonrpc"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/refserver"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/schema"
	"github.com/ovsdb-etcd/ovsdb-etcd/internal/txn"
)

const (
	diffDir = "testdata/diff"
	// diffCallTimeout bounds one transaction on ovsdb-server (waits in the
	// cases use timeouts far below it).
	diffCallTimeout = 10 * time.Second
	// minDiffCases is the floor issue 3 sets for the suite.
	minDiffCases = 200
)

type diffFile struct {
	Description string `json:"description"`
	Schema      string `json:"schema"`
	// Clustered runs the file on a one-member cluster instead of a
	// standalone server. Transaction semantics are the same, except that a
	// clustered server regenerates "_version" when it applies the Raft log
	// entry, so a _version selected in the inserting transaction differs
	// from the one stored.
	Clustered bool       `json:"clustered"`
	Cases     []diffCase `json:"cases"`
}

type diffCase struct {
	Name    string   `json:"name"`
	Feature string   `json:"feature"`
	Ops     []any    `json:"ops"`
	Locks   []string `json:"locks"`
}

// diffSide is one implementation's view of the sequence: the UUIDs its
// inserts got by uuid-name, and its normalization map.
type diffSide struct {
	named map[string]string
	norm  *uuidNormalizer
}

func newDiffSide() *diffSide { return &diffSide{named: map[string]string{}, norm: newUUIDNormalizer()} }

type featureCount struct{ pass, fail int }

func TestDifferential(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	files, err := filepath.Glob(filepath.Join(diffDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files in %s: %v", diffDir, err)
	}
	sort.Strings(files)
	counts := map[string]*featureCount{}
	total := 0
	for _, path := range files {
		var f diffFile
		if err := decodeUseNumber(path, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		total += len(f.Cases)
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) { runDiffFile(t, f, counts) })
	}
	if total < minDiffCases {
		t.Errorf("only %d cases, issue 3 asks for at least %d", total, minDiffCases)
	}
	printDiffSummary(t, counts)
}

func decodeUseNumber(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

func schemaPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(diffDir, p)
}

func runDiffFile(t *testing.T, f diffFile, counts map[string]*featureCount) {
	t.Helper()
	sp := schemaPath(f.Schema)
	data, err := os.ReadFile(sp)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	var dbName struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(data, &dbName); err != nil {
		t.Fatalf("schema %s: %v", sp, err)
	}
	srv := refserver.Start(t, refserver.Options{Schemas: []string{sp}, Clustered: f.Clustered})
	ctx := t.Context()
	client := srv.Dial(ctx)

	db, setupErr := newLocalDatabase(data)
	refSide, ourSide := newDiffSide(), newDiffSide()
	seen := map[string]bool{}
	for i, c := range f.Cases {
		if c.Name == "" || seen[c.Name] || c.Feature == "" {
			t.Fatalf("case %d: missing, duplicate or untagged name %q", i, c.Name)
		}
		seen[c.Name] = true

		realOps := substitute(c.Ops, refSide.named).([]any)
		realRaw, realErr := transactReal(ctx, client, dbName.Name, realOps, c.Locks)
		var realReply any
		if realErr == nil {
			realReply, realErr = jsonrpc.DecodeValue(realRaw)
		}
		if realErr != nil {
			t.Fatalf("case %s: ovsdb-server: %v", c.Name, realErr)
		}
		refSide.capture(c.Ops, realReply)

		var localReply any
		localErr := setupErr
		if localErr == nil {
			localOps := substitute(c.Ops, ourSide.named).([]any)
			localReply, localErr = executeLocal(db, localOps, c.Locks)
		}
		if localErr == nil {
			ourSide.capture(c.Ops, localReply)
		}

		wantN := refSide.norm.normalize(realReply, c.Name)
		var gotN any
		if localErr == nil {
			gotN = ourSide.norm.normalize(localReply, c.Name)
		}
		want, got := canonical(wantN), canonical(gotN)
		fc := counts[c.Feature]
		if fc == nil {
			fc = &featureCount{}
			counts[c.Feature] = fc
		}
		ok := localErr == nil && want == got
		if ok {
			fc.pass++
		} else {
			fc.fail++
		}
		t.Run(c.Name, func(t *testing.T) {
			if os.Getenv("DIFF_SHOW") != "" {
				t.Logf("ovsdb-server: %s", realRaw)
			}
			if ok {
				return
			}
			opsJSON, _ := json.Marshal(c.Ops)
			if localErr != nil {
				t.Errorf("case %s [%s]\nops: %s\nlocks: %v\novsdb-server: %s\ntxn.Execute failed: %v",
					c.Name, c.Feature, opsJSON, c.Locks, realRaw, localErr)
				return
			}
			rawLocal, _ := json.Marshal(localReply)
			t.Errorf("case %s [%s]: replies differ\nops: %s\nlocks: %v\novsdb-server (normalized): %s\ntxn.Execute  (normalized): %s\novsdb-server (raw): %s\ntxn.Execute  (raw): %s",
				c.Name, c.Feature, opsJSON, c.Locks, want, got, realRaw, rawLocal)
		})
	}
}

// newLocalDatabase parses the schema and builds an empty txn.Database,
// turning a panic of a half-built package into an error.
func newLocalDatabase(schemaJSON []byte) (db *txn.Database, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while loading schema: %v\n%s", r, debug.Stack())
		}
	}()
	s, err := schema.Parse(schemaJSON)
	if err != nil {
		return nil, fmt.Errorf("schema.Parse: %w", err)
	}
	return txn.NewDatabase(s), nil
}

// executeLocal runs one transaction through txn.Execute. A wait that
// blocks is run again with WaitExpired, which is what happens on
// ovsdb-server when nothing else commits before the wait's timeout.
func executeLocal(db *txn.Database, ops []any, locks []string) (reply any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	opts := txn.Options{HasLock: func(name string) bool { return slices.Contains(locks, name) }}
	res := txn.Execute(db, ops, opts)
	if res.Blocked {
		// ovsdb-server answered after the timeout ran out; say so.
		opts.WaitExpired = true
		opts.ElapsedMs = res.BlockTimeoutMs
		res = txn.Execute(db, ops, opts)
		if res.Blocked {
			return nil, fmt.Errorf("still blocked with WaitExpired")
		}
	}
	// Round-trip through JSON so both sides are compared as parsed JSON.
	b, err := json.Marshal(res.Reply)
	if err != nil {
		return nil, fmt.Errorf("marshal reply: %w", err)
	}
	return jsonrpc.DecodeValue(b)
}

// transactReal runs one transaction on ovsdb-server, holding locks for it.
func transactReal(ctx context.Context, c *jsonrpc.Client, db string, ops []any, locks []string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, diffCallTimeout)
	defer cancel()
	for _, l := range locks {
		res, err := c.Call(ctx, "lock", l)
		if err != nil {
			return nil, fmt.Errorf("lock %q: %w", l, err)
		}
		if !strings.Contains(string(res), `"locked":true`) {
			return nil, fmt.Errorf("lock %q not granted: %s", l, res)
		}
	}
	params := append([]any{db}, ops...)
	res, err := c.Call(ctx, "transact", params...)
	for _, l := range locks {
		if _, uerr := c.Call(ctx, "unlock", l); uerr != nil && err == nil {
			err = fmt.Errorf("unlock %q: %w", l, uerr)
		}
	}
	return res, err
}

// substitute returns a deep copy of v with ["uuid","@name"] replaced by
// the UUID named holds for name (left as is when unknown).
func substitute(v any, named map[string]string) any {
	switch x := v.(type) {
	case []any:
		if len(x) == 2 && x[0] == "uuid" {
			if s, ok := x[1].(string); ok && strings.HasPrefix(s, "@") {
				if u, ok := named[s[1:]]; ok {
					return []any{"uuid", u}
				}
			}
		}
		out := make([]any, len(x))
		for i := range x {
			out[i] = substitute(x[i], named)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substitute(e, named)
		}
		return out
	}
	return v
}

// capture records the UUIDs that inserts with a uuid-name got.
func (s *diffSide) capture(ops []any, reply any) {
	results, _ := reply.([]any)
	for i, op := range ops {
		m, _ := op.(map[string]any)
		name, _ := m["uuid-name"].(string)
		if m["op"] != "insert" || name == "" || i >= len(results) {
			continue
		}
		r, _ := results[i].(map[string]any)
		if u, ok := r["uuid"].([]any); ok && len(u) == 2 {
			if us, ok := u[1].(string); ok {
				s.named[name] = us
			}
		}
	}
}

var waitElapsedRE = regexp.MustCompile(`"wait" timed out after [0-9]+ ms`)

var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// uuidNormalizer maps one side's UUIDs to tokens named after the place
// where the UUID first appeared ("#case/0/uuid"), so the same row keeps its
// token from one transaction to the next, and a UUID that one side shows
// and the other does not changes only its own token, not every later one.
type uuidNormalizer struct {
	tokens map[string]string
}

func newUUIDNormalizer() *uuidNormalizer { return &uuidNormalizer{tokens: map[string]string{}} }

// token returns u's token; an unknown u gets at as its token when at is
// not empty, and "#?" otherwise.
func (n *uuidNormalizer) token(u, at string) string {
	u = strings.ToLower(u)
	if t, ok := n.tokens[u]; ok {
		return t
	}
	if u == "00000000-0000-0000-0000-000000000000" {
		return "#zero"
	}
	if at == "" {
		return "#?"
	}
	t := "#" + at
	n.tokens[u] = t
	return t
}

// normalize returns v with "syntax" members parsed, numbers in one
// notation, select rows sorted, UUIDs replaced by tokens (also inside
// "details" strings) and the elements of sets and maps holding UUIDs sorted
// by their tokens. caseName prefixes the tokens of new UUIDs.
func (n *uuidNormalizer) normalize(v any, caseName string) any {
	v = n.prepare(v)
	return n.walk(v, caseName)
}

// prepare parses "syntax" strings, canonicalizes numbers and sorts "rows"
// arrays by their content with known UUIDs tokenized and unknown ones
// blanked, so row order does not depend on either server's hashing.
func (n *uuidNormalizer) prepare(v any) any {
	switch x := v.(type) {
	case json.Number:
		return canonicalNumber(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = n.prepare(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if s, ok := e.(string); ok && k == "syntax" {
				if parsed, err := jsonrpc.DecodeValue(json.RawMessage(s)); err == nil {
					e = map[string]any{"parsed-syntax": parsed}
				}
			}
			out[k] = n.prepare(e)
		}
		if rows, ok := out["rows"].([]any); ok {
			keys := make([]string, len(rows))
			for i, r := range rows {
				keys[i] = canonical(n.walk(r, ""))
			}
			idx := make([]int, len(rows))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
			sorted := make([]any, len(rows))
			for i, j := range idx {
				sorted[i] = rows[j]
			}
			out["rows"] = sorted
		}
		return out
	}
	return v
}

// canonicalNumber renders a number the same way whatever notation a
// server chose (ovsdb-server writes 1e+20 and 1e-07 where Go writes
// 100000000000000000000 and 1e-7); clients parse numbers, so only the
// value is compared.
func canonicalNumber(x json.Number) json.Number {
	if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
		return json.Number(strconv.FormatInt(i, 10))
	}
	if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return x
}

// walk tokenizes UUIDs. at is the JSON path of v inside the reply,
// prefixed by the case name; an empty at only looks tokens up.
func (n *uuidNormalizer) walk(v any, at string) any {
	sub := func(k string) string {
		if at == "" {
			return ""
		}
		return at + "/" + k
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 2 && x[0] == "uuid" {
			if s, ok := x[1].(string); ok && len(s) == 36 && uuidRE.MatchString(s) {
				return []any{"uuid", n.token(s, at)}
			}
		}
		out := make([]any, len(x))
		for i := range x {
			out[i] = n.walk(x[i], sub(strconv.Itoa(i)))
		}
		if len(out) == 2 && (out[0] == "set" || out[0] == "map") {
			if elems, ok := out[1].([]any); ok && strings.Contains(canonical(elems), `"uuid"`) {
				sorted := slices.Clone(elems)
				slices.SortStableFunc(sorted, func(a, b any) int { return cmp.Compare(canonical(a), canonical(b)) })
				out[1] = sorted
			}
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		// Visit members in key order so token assignment is deterministic.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := x[k]
			if s, ok := e.(string); ok && k == "details" {
				i := 0
				e = uuidRE.ReplaceAllStringFunc(s, func(u string) string {
					i++
					if at == "" {
						return n.token(u, "")
					}
					return n.token(u, fmt.Sprintf("%s/details.%d", at, i))
				})
				e = canonicalIndexDetails(e.(string))
				// The elapsed time of a timed-out wait is wall-clock time
				// (51 ms for a 50 ms timeout on a loaded machine).
				e = waitElapsedRE.ReplaceAllString(e.(string), `"wait" timed out after N ms`)
			}
			out[k] = n.walk(e, sub(k))
		}
		return out
	}
	return v
}

// canonicalIndexDetails puts the two row clauses of an index uniqueness
// violation in a fixed order. ovsdb-server names the two clashing rows in
// the order it meets them in a hash table, which differs from run to run
// even for the same UUIDs, so no client can depend on that order.
func canonicalIndexDetails(s string) string {
	const first, second = "  First row, with UUID ", "  Second row, with UUID "
	i := strings.Index(s, first)
	j := strings.Index(s, second)
	if i < 0 || j < i {
		return s
	}
	a, b := s[i+len(first):j], s[j+len(second):]
	if b < a {
		a, b = b, a
	}
	return s[:i] + first + a + second + b
}

// canonical renders v as JSON with sorted object keys.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<unmarshalable %v: %v>", v, err)
	}
	return string(b)
}

func printDiffSummary(t *testing.T, counts map[string]*featureCount) {
	t.Helper()
	features := make([]string, 0, len(counts))
	for f := range counts {
		features = append(features, f)
	}
	sort.Strings(features)
	var b strings.Builder
	var pass, fail int
	fmt.Fprintf(&b, "differential cases per feature (pass/total):\n")
	for _, f := range features {
		c := counts[f]
		pass += c.pass
		fail += c.fail
		mark := ""
		if c.fail > 0 {
			mark = "  MISMATCH"
		}
		fmt.Fprintf(&b, "  %-28s %3d/%3d%s\n", f, c.pass, c.pass+c.fail, mark)
	}
	fmt.Fprintf(&b, "  %-28s %3d/%3d\n", "TOTAL", pass, pass+fail)
	t.Log(b.String())
	fmt.Print(b.String())
}
