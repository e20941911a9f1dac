package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

func TestMergeFlags(t *testing.T) {
	type svc struct {
		prefix  string
		schemas []string
		listen  string
		debug   bool
		only    int
	}
	newSet := func(name string, s *svc, withOnly bool) *pflag.FlagSet {
		fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
		fs.StringVar(&s.prefix, "prefix", "ovsdb", "prefix of "+name)
		fs.StringArrayVar(&s.schemas, "schema", nil, "schema")
		fs.StringVar(&s.listen, "listen", "x", "listen")
		fs.BoolVar(&s.debug, "debug", false, "debug")
		if withOnly {
			fs.IntVar(&s.only, "only", 0, "only here")
		}
		return fs
	}
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(t *testing.T, a, b svc)
	}{
		{
			name: "shared flags reach every service",
			args: []string{"--prefix", "p", "--schema", "a", "--schema", "b", "--debug"},
			check: func(t *testing.T, a, b svc) {
				t.Helper()
				for _, s := range []svc{a, b} {
					if s.prefix != "p" || !slices.Equal(s.schemas, []string{"a", "b"}) || !s.debug {
						t.Errorf("service got %+v", s)
					}
				}
			},
		},
		{
			name: "defaults kept",
			args: nil,
			check: func(t *testing.T, a, b svc) {
				t.Helper()
				if a.prefix != "ovsdb" || b.prefix != "ovsdb" || a.debug {
					t.Errorf("got %+v %+v", a, b)
				}
			},
		},
		{
			name: "flag of one service",
			args: []string{"--only", "3"},
			check: func(t *testing.T, a, b svc) {
				t.Helper()
				if a.only != 3 || b.only != 0 {
					t.Errorf("got %d %d", a.only, b.only)
				}
			},
		},
		{name: "skipped flag is not defined", args: []string{"--listen", "y"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a, b svc
			dst := pflag.NewFlagSet("all", pflag.ContinueOnError)
			if err := mergeFlags(dst, []string{"listen"}, newSet("a", &a, true), newSet("b", &b, false)); err != nil {
				t.Fatal(err)
			}
			err := dst.Parse(tc.args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse(%v) = %v, want error %v", tc.args, err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, a, b)
			}
		})
	}
}

func TestMergeFlagsTypeMismatch(t *testing.T) {
	a := pflag.NewFlagSet("a", pflag.ContinueOnError)
	a.String("x", "", "")
	b := pflag.NewFlagSet("b", pflag.ContinueOnError)
	b.Int("x", 0, "")
	if err := mergeFlags(pflag.NewFlagSet("all", pflag.ContinueOnError), nil, a, b); err == nil {
		t.Fatal("merging --x of types string and int succeeded")
	}
}

// TestAllInOneFlags checks that the all-in-one command line of DESIGN.md
// parses, with its shared flags reaching every service.
func TestAllInOneFlags(t *testing.T) {
	cmd, c := newAllInOne()
	args := []string{"--schema", "nb.ovsschema", "--schema", "sb.ovsschema", "--remote", "punix:/tmp/x.sock",
		"--remote", "ptcp:6641:127.0.0.1", "--data-dir", "/tmp/d", "--prefix", "pre", "--service", "svc"}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd-endpoints", "data-dir", "log-level", "metrics-listen", "private-key", "certificate", "ca-cert", "lease-ttl"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("all-in-one has no --%s", name)
		}
	}
	if c.txn.Prefix != "pre" || c.hub.Prefix != "pre" || c.txn.Service != "svc" || c.hub.Service != "svc" {
		t.Errorf("prefix/service: txnengine %q/%q, monitorhub %q/%q", c.txn.Prefix, c.txn.Service, c.hub.Prefix, c.hub.Service)
	}
	if !slices.Equal(c.txn.SchemaFiles, []string{"nb.ovsschema", "sb.ovsschema"}) {
		t.Errorf("txnengine schemas %v", c.txn.SchemaFiles)
	}
	if !slices.Equal(c.fe.Remotes, []string{"punix:/tmp/x.sock", "ptcp:6641:127.0.0.1"}) {
		t.Errorf("frontend remotes %v", c.fe.Remotes)
	}
	if c.dataDir != "/tmp/d" {
		t.Errorf("data dir %q", c.dataDir)
	}
	for _, name := range allInOneSkipFlags {
		if name != "etcd-endpoints" && cmd.Flags().Lookup(name) != nil {
			t.Errorf("all-in-one exposes --%s, which it sets itself", name)
		}
	}
}
