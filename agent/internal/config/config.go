// Package config reads the agent's configuration file, HCL attributes named
// like the command-line flags (state_dir for --state-dir). It knows nothing
// of flags: the caller hands it a schema (attribute name → kind and check)
// and gets back each setting in flag form, so flags, environment and file
// share one parser per setting. Every error names file:line:col.
package config

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// DefaultPath is read when no other file is named and it exists.
const DefaultPath = "/etc/ytcaption/agent.hcl"

// Kind is the HCL type an attribute takes.
type Kind int

// The kinds of attribute values.
const (
	String   Kind = iota // "text"
	Int                  // a whole number ≥ 0
	Bool                 // true or false
	Duration             // "90s", "2m"
	List                 // ["a", "b"]
	Map                  // { k = "v" }
	Int64                // a whole number ≥ 0 that may pass 2³¹ (sizes in bytes)
)

func (k Kind) String() string {
	return [...]string{"a string", "a whole number (0 or more)", "true or false", `a duration such as "90s"`,
		`a list of strings such as ["a", "b"]`, `a map of strings such as { k = "v" }`, "a whole number (0 or more)"}[k]
}

// Attr describes one attribute.
type Attr struct {
	Kind Kind
	// Check, if set, validates the value in flag form.
	Check func(string) error
}

// Setting is one attribute the file sets, its value in flag form: lists
// joined with ",", maps as "k=v,..." (keys sorted), numbers in decimal.
type Setting struct {
	Name  string
	Value string
	Range hcl.Range
}

// Load parses the file at path and checks it against schema. Every problem
// is reported (joined), each as "file:line:col: message".
func Load(path string, schema map[string]Attr) ([]Setting, error) {
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		return nil, diagErr(diags)
	}
	body := f.Body.(*hclsyntax.Body) // ParseHCLFile always yields native syntax
	var errs []error
	for _, b := range body.Blocks {
		errs = append(errs, at(b.TypeRange, "blocks are not supported (%q): settings are attributes, name = value", b.Type))
	}
	names := make([]string, 0, len(body.Attributes))
	for name := range body.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Setting
	for _, name := range names {
		a := body.Attributes[name]
		attr, ok := schema[name]
		if !ok {
			errs = append(errs, at(a.NameRange, "unknown attribute %q", name))
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			errs = append(errs, diagErr(diags))
			continue
		}
		s, err := flagForm(v, attr.Kind)
		if err == nil && attr.Check != nil {
			err = attr.Check(s)
		}
		if err != nil {
			errs = append(errs, at(a.Expr.Range(), "%s: %v", name, err))
			continue
		}
		out = append(out, Setting{Name: name, Value: s, Range: a.Expr.Range()})
	}
	// Sorted by position: the order a person reads the file in.
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out, errors.Join(errs...)
}

// flagForm turns a value of the given kind into the string a flag parses.
func flagForm(v cty.Value, k Kind) (string, error) {
	bad := fmt.Errorf("must be %s, not %s", k, v.Type().FriendlyName())
	if v.IsNull() {
		return "", fmt.Errorf("must be %s, not null", k)
	}
	switch k {
	case String, Duration:
		if v.Type() != cty.String {
			return "", bad
		}
		s := v.AsString()
		if k == Duration {
			if d, err := time.ParseDuration(s); err != nil || d < 0 {
				return "", fmt.Errorf("%q is not %s", s, k)
			}
		}
		return s, nil
	case Int, Int64:
		if v.Type() != cty.Number {
			return "", bad
		}
		limit := big.NewFloat(1 << 31)
		if k == Int64 {
			limit = big.NewFloat(1 << 63)
		}
		n := v.AsBigFloat()
		if !n.IsInt() || n.Sign() < 0 || n.Cmp(limit) >= 0 {
			return "", fmt.Errorf("%s is not %s", n.Text('g', -1), k)
		}
		i, _ := n.Int64()
		return fmt.Sprint(i), nil
	case Bool:
		if v.Type() != cty.Bool {
			return "", bad
		}
		return fmt.Sprint(v.True()), nil
	case List:
		if !v.Type().IsTupleType() && !v.Type().IsListType() {
			return "", bad
		}
		var items []string
		for _, e := range v.AsValueSlice() {
			if e.IsNull() || e.Type() != cty.String {
				return "", bad
			}
			if strings.Contains(e.AsString(), ",") {
				return "", fmt.Errorf("item %q contains a comma", e.AsString())
			}
			items = append(items, e.AsString())
		}
		return strings.Join(items, ","), nil
	case Map:
		if !v.Type().IsObjectType() && !v.Type().IsMapType() {
			return "", bad
		}
		m := v.AsValueMap()
		keys := make([]string, 0, len(m))
		for key, e := range m {
			if e.IsNull() || e.Type() != cty.String {
				return "", fmt.Errorf("%s: must be a string, not %s", key, e.Type().FriendlyName())
			}
			if strings.ContainsAny(key+e.AsString(), ",=") {
				return "", fmt.Errorf("%s = %q: keys and values cannot contain ',' or '='", key, e.AsString())
			}
			keys = append(keys, key)
		}
		sort.Strings(keys)
		pairs := make([]string, len(keys))
		for i, key := range keys {
			pairs[i] = key + "=" + m[key].AsString()
		}
		return strings.Join(pairs, ","), nil
	}
	return "", fmt.Errorf("unknown kind %d", k)
}

// Pos is "file:line:col" of r's start.
func Pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func at(r hcl.Range, format string, args ...any) error {
	return fmt.Errorf("%s: %s", Pos(r), fmt.Sprintf(format, args...))
}

// diagErr formats HCL diagnostics as file:line:col errors.
func diagErr(diags hcl.Diagnostics) error {
	var errs []error
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject == nil {
			errs = append(errs, errors.New(msg))
			continue
		}
		errs = append(errs, at(*d.Subject, "%s", msg))
	}
	return errors.Join(errs...)
}
