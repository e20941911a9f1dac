package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// teeValue is one command-line flag that sets the flag of the same name of
// several services. all-in-one uses it so that --prefix, --service,
// --schema, --etcd-endpoints, ... are given once and reach every role.
type teeValue struct {
	values []pflag.Value
}

func (t *teeValue) String() string { return t.values[0].String() }
func (t *teeValue) Type() string   { return t.values[0].Type() }

func (t *teeValue) Set(s string) error {
	var errs []error
	for _, v := range t.values {
		errs = append(errs, v.Set(s))
	}
	return errors.Join(errs...)
}

// boolFlag lets a tee of boolean flags be given without a value.
type boolFlag interface{ IsBoolFlag() bool }

// teeBoolValue is a teeValue of boolean flags.
type teeBoolValue struct{ teeValue }

func (*teeBoolValue) IsBoolFlag() bool { return true }

// mergeFlags adds to dst every flag of srcs except those named in skip.
// Flags defined by more than one source become one flag that sets all of
// them; their types must agree.
func mergeFlags(dst *pflag.FlagSet, skip []string, srcs ...*pflag.FlagSet) error {
	byName := map[string][]*pflag.Flag{}
	var order []string
	for _, src := range srcs {
		src.VisitAll(func(f *pflag.Flag) {
			if slices.Contains(skip, f.Name) {
				return
			}
			if _, ok := byName[f.Name]; !ok {
				order = append(order, f.Name)
			}
			byName[f.Name] = append(byName[f.Name], f)
		})
	}
	for _, name := range order {
		fs := byName[name]
		if dst.Lookup(name) != nil {
			return fmt.Errorf("flag --%s defined twice", name)
		}
		if len(fs) == 1 {
			dst.AddFlag(fs[0])
			continue
		}
		first := fs[0]
		tee := teeValue{}
		usages := []string{}
		for _, f := range fs {
			if f.Value.Type() != first.Value.Type() {
				return fmt.Errorf("flag --%s has types %s and %s", name, first.Value.Type(), f.Value.Type())
			}
			tee.values = append(tee.values, f.Value)
			if !slices.Contains(usages, f.Usage) {
				usages = append(usages, f.Usage)
			}
		}
		var v pflag.Value = &tee
		if b, ok := first.Value.(boolFlag); ok && b.IsBoolFlag() {
			v = &teeBoolValue{tee}
		}
		nf := &pflag.Flag{
			Name:        name,
			Shorthand:   first.Shorthand,
			Usage:       strings.Join(usages, "; "),
			Value:       v,
			DefValue:    first.DefValue,
			NoOptDefVal: first.NoOptDefVal,
		}
		dst.AddFlag(nf)
	}
	return nil
}
