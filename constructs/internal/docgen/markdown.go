package docgen

import (
	"fmt"
	"strings"
)

// RegenerateCommand rewrites every construct README's reference section.
const RegenerateCommand = "go generate ./constructs/..."

// Markdown renders the reference section: level-2 heading, then one level-3 heading
// per part. Everything in it comes from the source, so two runs give the same bytes.
func (p *Package) Markdown() string {
	var b strings.Builder
	b.WriteString("## Reference\n\n")
	fmt.Fprintf(&b, "Generated from the Go source by `%s`: edit the doc comments, not this section.\n", RegenerateCommand)

	if len(p.Constructors) > 0 {
		b.WriteString("\n### Constructors\n\n")
		table(&b, []string{"constructor", "meaning"}, len(p.Constructors), func(i int) []string {
			c := p.Constructors[i]
			return []string{code(c.Signature()), cell(c.Doc)}
		})
	}
	for _, t := range p.Props {
		level := "###"
		if t.Nested {
			level = "####"
		}
		fmt.Fprintf(&b, "\n%s %s\n", level, t.Name)
		paragraph(&b, cell(t.Doc))
		switch {
		case len(t.Fields) > 0:
			b.WriteString("\n")
			table(&b, []string{"field", "type", "default", "meaning"}, len(t.Fields), func(i int) []string {
				f := t.Fields[i]
				return []string{code(f.Name), code(f.Type), cell(f.Default), cell(f.Meaning)}
			})
		case len(t.Methods) > 0:
			b.WriteString("\n")
			funcTable(&b, "method", t.Methods, true)
		case len(t.Values) > 0:
			vals := make([]string, len(t.Values))
			for i, v := range t.Values {
				vals[i] = code(v)
			}
			paragraph(&b, "Values: "+strings.Join(vals, ", ")+".")
		}
	}
	for _, a := range p.APIs {
		fmt.Fprintf(&b, "\n### %s\n", a.Name)
		paragraph(&b, cell(a.Doc))
		if len(a.Embeds) > 0 {
			embeds := make([]string, len(a.Embeds))
			for i, e := range a.Embeds {
				embeds[i] = code(e)
			}
			paragraph(&b, "Embeds "+strings.Join(embeds, ", ")+".")
		}
		if len(a.Attributes) > 0 {
			b.WriteString("\n")
			table(&b, []string{"attribute", "type", "meaning"}, len(a.Attributes), func(i int) []string {
				m := a.Attributes[i]
				return []string{code(m.Call), code(m.Results), cell(m.Doc)}
			})
		}
		if len(a.Grants) > 0 {
			b.WriteString("\n")
			funcTable(&b, "grant", a.Grants, false)
		}
		if len(a.Methods) > 0 {
			b.WriteString("\n")
			funcTable(&b, "method", a.Methods, false)
		}
	}
	return b.String()
}

func funcTable(b *strings.Builder, kind string, fs []Func, withResults bool) {
	table(b, []string{kind, "meaning"}, len(fs), func(i int) []string {
		sig := fs[i].Call
		if withResults {
			sig = fs[i].Signature()
		}
		return []string{code(sig), cell(fs[i].Doc)}
	})
}

func table(b *strings.Builder, header []string, rows int, row func(int) []string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString(strings.Repeat("|---", len(header)) + "|\n")
	for i := range rows {
		b.WriteString("| " + strings.Join(row(i), " | ") + " |\n")
	}
}

func paragraph(b *strings.Builder, text string) {
	if text != "" {
		b.WriteString("\n" + text + "\n")
	}
}

// code is a code span of Go names and types, which hold no "|" or backtick.
func code(s string) string { return "`" + s + "`" }

// cell makes doc text safe in a table cell: "|" would split the cell, and "<Name>"
// outside a code span would be read as an HTML tag and vanish. Code spans stay literal,
// since entities are not decoded inside them.
func cell(s string) string {
	parts := strings.Split(s, "`")
	for i, part := range parts {
		// An even count of parts means an unmatched backtick, which Markdown prints as
		// is: the text after it is not code.
		inCode := i%2 == 1 && (len(parts)%2 == 1 || i < len(parts)-1)
		part = strings.ReplaceAll(part, "|", `\|`)
		if !inCode {
			part = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(part)
		}
		parts[i] = part
	}
	return strings.Join(parts, "`")
}
