package tfscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/acme/module-registry/constructs/compliance"
)

// Block is what a provider schema says about one block: which of its keys are nested
// blocks (the rest are attributes), and whether it is a map of labelled blocks.
type Block struct {
	Blocks map[string]*Block `json:"blocks,omitempty"`
	Map    bool              `json:"map,omitempty"`
}

// Schema holds the block structure of a provider's resources, data sources and its own
// configuration.
type Schema struct {
	Provider  *Block            `json:"provider"`
	Resources map[string]*Block `json:"resources"`
	Data      map[string]*Block `json:"data"`
}

// Ignore exempts the resources of Type whose logical name starts with NamePrefix from the
// tfsec check Check, with the reason it is wrong about what deploys; Render writes it as
// a tfsec:ignore comment above each such resource.
type Ignore struct {
	Check, Type, NamePrefix, Why string
}

// metaArguments are the keys of a resource that tfsec does not read: how Terraform
// orders, replaces and provisions it.
var metaArguments = map[string]bool{"//": true, "depends_on": true, "lifecycle": true, "provisioner": true, "connection": true, "provider": true}

// Render turns a synthesized stack (cdk.tf.json) into HCL with the same resources, data
// sources and providers, nested blocks written as blocks as schema says. It leaves out
// what a scanner cannot use or parse: ephemeral resources, outputs, the backend and the
// meta-arguments, and writes an ignore comment for each matching ignore.
func Render(stackJSON []byte, schema *Schema, ignores []Ignore) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(stackJSON))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("tfscan: the stack is not valid JSON: %w", err)
	}
	w := &writer{}
	if providers, ok := tree["provider"].(map[string]any); ok {
		for _, name := range sortedKeys(providers) {
			for _, body := range compliance.NestedBlocks(providers[name]) {
				w.block(0, fmt.Sprintf("provider %q", name), body, schema.Provider)
			}
		}
	}
	for _, kind := range []string{"data", "resource"} {
		byType, _ := tree[kind].(map[string]any)
		blocks := schema.Resources
		if kind == "data" {
			blocks = schema.Data
		}
		for _, typ := range sortedKeys(byType) {
			instances, _ := byType[typ].(map[string]any)
			for _, name := range sortedKeys(instances) {
				body, _ := instances[name].(map[string]any)
				for _, ig := range ignores {
					if kind == "resource" && ig.Type == typ && strings.HasPrefix(name, ig.NamePrefix) {
						fmt.Fprintf(&w.buf, "# %s\n#tfsec:ignore:%s\n", ig.Why, ig.Check)
					}
				}
				w.block(0, fmt.Sprintf("%s %q %q", kind, typ, name), body, blocks[typ])
			}
		}
	}
	if locals, ok := tree["locals"].(map[string]any); ok {
		w.block(0, "locals", locals, nil)
	}
	return w.buf.Bytes(), nil
}

type writer struct{ buf bytes.Buffer }

func (w *writer) indent(n int) { w.buf.WriteString(strings.Repeat("  ", n)) }

// block writes header { body }, each key of body an attribute unless schema says it is a
// nested block.
func (w *writer) block(depth int, header string, body map[string]any, schema *Block) {
	w.indent(depth)
	w.buf.WriteString(header + " {\n")
	for _, k := range sortedKeys(body) {
		if metaArguments[k] && depth == 0 {
			continue
		}
		nested := (*Block)(nil)
		if schema != nil {
			nested = schema.Blocks[k]
		}
		switch {
		case nested != nil && nested.Map:
			labelled, _ := body[k].(map[string]any)
			for _, label := range sortedKeys(labelled) {
				for _, b := range compliance.NestedBlocks(labelled[label]) {
					w.block(depth+1, fmt.Sprintf("%s %q", k, label), b, nested)
				}
			}
		case nested != nil:
			for _, b := range compliance.NestedBlocks(body[k]) {
				w.block(depth+1, k, b, nested)
			}
		default:
			w.indent(depth + 1)
			w.buf.WriteString(k + " = ")
			w.value(depth+1, body[k])
			w.buf.WriteString("\n")
		}
	}
	w.indent(depth)
	w.buf.WriteString("}\n")
}

// value writes an attribute's expression. Strings stay templates: "${...}" is the same
// interpolation in HCL as in Terraform's JSON syntax.
func (w *writer) value(depth int, v any) {
	switch x := v.(type) {
	case nil:
		w.buf.WriteString("null")
	case bool:
		fmt.Fprint(&w.buf, x)
	case json.Number:
		w.buf.WriteString(x.String())
	case string:
		w.buf.WriteString(quote(x))
	case []any:
		w.buf.WriteString("[")
		for i, e := range x {
			if i > 0 {
				w.buf.WriteString(", ")
			}
			w.value(depth, e)
		}
		w.buf.WriteString("]")
	case map[string]any:
		if len(x) == 0 {
			w.buf.WriteString("{}")
			return
		}
		w.buf.WriteString("{\n")
		for _, k := range sortedKeys(x) {
			w.indent(depth + 1)
			w.buf.WriteString(quote(k) + " = ")
			w.value(depth+1, x[k])
			w.buf.WriteString("\n")
		}
		w.indent(depth)
		w.buf.WriteString("}")
	default:
		fmt.Fprintf(&w.buf, "%q", fmt.Sprint(x))
	}
}

var quoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)

// quote writes s as an HCL quoted template. The literal parts are escaped; the "${...}"
// and "%{...}" sequences are expressions in both syntaxes and stay as they are (their
// own strings included); "$${" and "%%{" stay literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	literal := 0 // start of the literal text not yet written
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "$${") || strings.HasPrefix(s[i:], "%%{") {
			i += 2
			continue
		}
		if !strings.HasPrefix(s[i:], "${") && !strings.HasPrefix(s[i:], "%{") {
			continue
		}
		end := templateEnd(s, i+2)
		if end < 0 {
			break // an unclosed sequence is literal text
		}
		b.WriteString(quoter.Replace(s[literal:i]))
		b.WriteString(s[i:end])
		literal, i = end, end-1
	}
	b.WriteString(quoter.Replace(s[literal:]))
	b.WriteByte('"')
	return b.String()
}

// templateEnd returns the index just after the "}" closing the sequence whose
// expression starts at i, or -1. Braces inside the expression's own strings do not count.
func templateEnd(s string, i int) int {
	depth, inString := 1, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{':
			depth++
		case c == '}':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
