// Package docgen keeps each construct package's README true to its Go source, the way
// terraform-docs keeps module READMEs true: it reads the package with go/parser and
// go/doc and renders a reference section (constructors, the Props tables, attributes
// and grants) between two fixed markers of the README, leaving the prose around them
// alone.
//
// The defaults and required flags come from the field comments that the construct style
// asks for: a "Default: ..." sentence gives the default, a sentence starting with
// "Required" marks the field required, and the rest of the comment is the meaning.
//
//	go generate ./constructs/...   # rewrite every construct README
package docgen

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Package is what the reference section shows of one construct package.
type Package struct {
	Name string
	// Constructors are New and the From* importers, New first.
	Constructors []Func
	// Props is the Props struct and the package types the importers take, each followed
	// by the package's own types it refers to, directly or through them, in order of
	// first use.
	Props []Type
	// APIs are the types the constructors return, then the package's own types their
	// attributes return (such as one table of a set), in order of first use.
	APIs []API
}

// Func is one function or method.
type Func struct {
	Name string
	// Call is the name with its parameters, e.g. "GrantRead(role iampolicy.Role)".
	Call string
	// Results is the result list, e.g. "*string"; empty for none.
	Results string
	// Doc is the first paragraph of the doc comment on one line.
	Doc string
}

// Signature is the call followed by its results.
func (f Func) Signature() string { return strings.TrimSpace(f.Call + " " + f.Results) }

// Type is one type a Props table describes: a struct's fields, an interface's methods or
// a named type's constants.
type Type struct {
	Name string
	Doc  string
	// Nested is set for a type reached through another one's fields.
	Nested  bool
	Fields  []Field
	Methods []Func
	Values  []string
}

// Field is one row of a Props table.
type Field struct {
	Name    string
	Type    string
	Default string
	Meaning string
}

// API is what a construct type offers once created.
type API struct {
	Name string
	Doc  string
	// Embeds are embedded types of other packages, whose methods the type also has.
	Embeds []string
	// Attributes are the methods returning values, other than grants.
	Attributes []Func
	// Grants are the Grant* methods.
	Grants []Func
	// Methods are the remaining exported methods, such as AllowServiceUse.
	Methods []Func
}

// Load reads the package in dir (its non-test Go files for this platform).
func Load(dir string) (*Package, error) {
	files, err := sourceFiles(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, f)
	}
	return FromFiles(fset, parsed)
}

func sourceFiles(dir string) ([]string, error) {
	bp, err := build.ImportDir(dir, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return bp.GoFiles, nil
}

// FromFiles reads a package from its parsed files (with comments). It fails when the
// package has no Props struct, since every construct is configured by one.
func FromFiles(fset *token.FileSet, files []*ast.File) (*Package, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files")
	}
	// go/doc sorts functions, types and methods by name, so the output does not depend on
	// how the package is split into files.
	dp, err := doc.NewFromFiles(fset, files, "construct/"+files[0].Name.Name)
	if err != nil {
		return nil, err
	}
	r := &reader{types: map[string]*doc.Type{}}
	for _, t := range dp.Types {
		r.types[t.Name] = t
	}
	props, ok := r.types["Props"]
	if !ok || structOf(props) == nil {
		return nil, fmt.Errorf("package %s: no Props struct", dp.Name)
	}
	p := &Package{Name: dp.Name, Constructors: r.constructors(dp)}
	p.Props = r.propsTypes(props, r.ctorTypes)
	p.APIs = r.apis(p.Constructors)
	return p, nil
}

type reader struct {
	types map[string]*doc.Type
	// results maps each constructor's name to the package type it returns.
	results map[string]string
	// ctorTypes are the constructors' signatures, New first.
	ctorTypes []*ast.FuncType
}

func (r *reader) constructors(dp *doc.Package) []Func {
	all := append([]*doc.Func{}, dp.Funcs...)
	for _, t := range dp.Types {
		all = append(all, t.Funcs...)
	}
	all = slices.DeleteFunc(all, func(f *doc.Func) bool { return f.Name != "New" && !isPrefixed(f.Name, "From") })
	key := func(f *doc.Func) string { // New first, then the importers by name
		if f.Name == "New" {
			return ""
		}
		return f.Name
	}
	slices.SortFunc(all, func(a, b *doc.Func) int { return strings.Compare(key(a), key(b)) })
	r.results = map[string]string{}
	out := make([]Func, 0, len(all))
	for _, f := range all {
		out = append(out, funcOf(f.Name, f.Decl.Type, f.Doc))
		r.ctorTypes = append(r.ctorTypes, f.Decl.Type)
		if res := f.Decl.Type.Results; res != nil && len(res.List) > 0 {
			if name, ok := r.local(res.List[0].Type); ok {
				r.results[f.Name] = name
			}
		}
	}
	return out
}

// propsTypes walks Props, then the package types the importers take (such as an
// attributes struct), each with every package type its fields refer to, breadth first.
func (r *reader) propsTypes(props *doc.Type, ctors []*ast.FuncType) []Type {
	roots := []string{props.Name}
	for _, ft := range ctors {
		for _, f := range ft.Params.List {
			roots = append(roots, r.refs(f.Type)...)
		}
	}
	var out []Type
	seen := map[string]bool{}
	for _, root := range roots {
		if seen[root] {
			continue
		}
		seen[root] = true
		queue := []*doc.Type{r.types[root]}
		for len(queue) > 0 {
			t := queue[0]
			queue = queue[1:]
			ty := Type{Name: t.Name, Doc: firstParagraph(t.Doc), Nested: t.Name != root}
			switch {
			case structOf(t) != nil:
				for _, f := range structOf(t).Fields.List {
					for _, name := range r.refs(f.Type) {
						if !seen[name] {
							seen[name] = true
							queue = append(queue, r.types[name])
						}
					}
					ty.Fields = append(ty.Fields, fieldsOf(f)...)
				}
			case interfaceOf(t) != nil:
				ty.Methods = interfaceMethods(interfaceOf(t))
			default:
				for _, v := range t.Consts {
					ty.Values = append(ty.Values, v.Names...)
				}
			}
			out = append(out, ty)
		}
	}
	return out
}

func (r *reader) apis(ctors []Func) []API {
	var queue []string
	seen := map[string]bool{}
	push := func(name string) {
		if !seen[name] {
			seen[name] = true
			queue = append(queue, name)
		}
	}
	for _, c := range ctors {
		if name, ok := r.results[c.Name]; ok {
			push(name)
		}
	}
	var out []API
	for len(queue) > 0 {
		t := r.types[queue[0]]
		queue = queue[1:]
		a := API{Name: t.Name, Doc: firstParagraph(t.Doc)}
		var methods []Func
		var resultTypes []ast.Expr
		if it := interfaceOf(t); it != nil {
			methods = interfaceMethods(it)
			for _, m := range it.Methods.List {
				if ft, ok := m.Type.(*ast.FuncType); ok && len(m.Names) > 0 && ft.Results != nil {
					resultTypes = append(resultTypes, ft.Results.List[0].Type)
				}
			}
		} else {
			for _, m := range t.Methods {
				methods = append(methods, funcOf(m.Name, m.Decl.Type, m.Doc))
				if res := m.Decl.Type.Results; res != nil && len(res.List) > 0 {
					resultTypes = append(resultTypes, res.List[0].Type)
				}
			}
			a.Embeds = foreignEmbeds(structOf(t))
		}
		for _, m := range methods {
			switch {
			case isPrefixed(m.Name, "Grant"):
				a.Grants = append(a.Grants, m)
			case m.Results != "":
				a.Attributes = append(a.Attributes, m)
			default:
				a.Methods = append(a.Methods, m)
			}
		}
		for _, e := range resultTypes {
			for _, name := range r.refs(e) {
				if r.hasMethods(name) {
					push(name)
				}
			}
		}
		out = append(out, a)
	}
	return out
}

func (r *reader) hasMethods(name string) bool {
	t := r.types[name]
	if it := interfaceOf(t); it != nil {
		return len(it.Methods.List) > 0
	}
	return len(t.Methods) > 0
}

// local names the package type e is (behind pointers), if it is one.
func (r *reader) local(e ast.Expr) (string, bool) {
	id, ok := deref(e).(*ast.Ident)
	if !ok || r.types[id.Name] == nil {
		return "", false
	}
	return id.Name, true
}

// refs lists the package types e mentions: T, *T, []T, map[K]T, ...T, in order.
func (r *reader) refs(e ast.Expr) []string {
	var out []string
	ast.Inspect(e, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			return false // another package's type
		case *ast.FuncType:
			return false
		case *ast.Ident:
			if r.types[x.Name] != nil {
				out = append(out, x.Name)
			}
		}
		return true
	})
	return out
}

func structOf(t *doc.Type) *ast.StructType {
	st, _ := typeExpr(t).(*ast.StructType)
	return st
}

func interfaceOf(t *doc.Type) *ast.InterfaceType {
	it, _ := typeExpr(t).(*ast.InterfaceType)
	return it
}

// typeExpr is what t is declared as: a struct, an interface, a named basic type, ...
func typeExpr(t *doc.Type) ast.Expr {
	if t == nil {
		return nil
	}
	for _, s := range t.Decl.Specs {
		if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == t.Name {
			return ts.Type
		}
	}
	return nil
}

// deref strips one pointer: *T is documented as T.
func deref(e ast.Expr) ast.Expr {
	if s, ok := e.(*ast.StarExpr); ok {
		return s.X
	}
	return e
}

func interfaceMethods(it *ast.InterfaceType) []Func {
	var out []Func
	for _, m := range it.Methods.List {
		ft, ok := m.Type.(*ast.FuncType)
		if !ok {
			continue // an embedded interface
		}
		for _, n := range m.Names {
			if n.IsExported() {
				out = append(out, funcOf(n.Name, ft, commentText(m)))
			}
		}
	}
	sortFuncs(out)
	return out
}

// foreignEmbeds lists embedded fields of other packages: go/doc cannot see their
// methods, so the reference names them instead.
func foreignEmbeds(st *ast.StructType) []string {
	if st == nil {
		return nil
	}
	var out []string
	for _, f := range st.Fields.List {
		if len(f.Names) > 0 {
			continue
		}
		if _, ok := deref(f.Type).(*ast.SelectorExpr); ok {
			out = append(out, types.ExprString(f.Type))
		}
	}
	return out
}

func fieldsOf(f *ast.Field) []Field {
	names := make([]string, 0, len(f.Names))
	for _, n := range f.Names {
		if n.IsExported() {
			names = append(names, n.Name)
		}
	}
	if len(f.Names) == 0 { // embedded: the field is named after its type
		e := deref(f.Type)
		if s, ok := e.(*ast.SelectorExpr); ok {
			e = s.Sel
		}
		if id, ok := e.(*ast.Ident); ok && id.IsExported() {
			names = append(names, id.Name)
		}
	}
	def, meaning := ParseComment(commentText(f))
	out := make([]Field, 0, len(names))
	for _, n := range names {
		out = append(out, Field{Name: n, Type: types.ExprString(f.Type), Default: def, Meaning: meaning})
	}
	return out
}

func commentText(f *ast.Field) string {
	if f.Doc != nil {
		return f.Doc.Text()
	}
	return f.Comment.Text()
}

func funcOf(name string, ft *ast.FuncType, docText string) Func {
	call := strings.TrimPrefix(types.ExprString(&ast.FuncType{Params: ft.Params}), "func")
	return Func{Name: name, Call: name + call, Results: results(ft.Results), Doc: firstParagraph(docText)}
}

func results(fl *ast.FieldList) string {
	if fl == nil || len(fl.List) == 0 {
		return ""
	}
	var parts []string
	named := false
	for _, f := range fl.List {
		t := types.ExprString(f.Type)
		if len(f.Names) == 0 {
			parts = append(parts, t)
			continue
		}
		named = true
		for _, n := range f.Names {
			parts = append(parts, n.Name+" "+t)
		}
	}
	if len(parts) == 1 && !named {
		return parts[0]
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// ParseComment splits a Props field comment into the default, taken from its
// "Default: ..." sentence, or "required" (with any condition, "required unless ...")
// from a sentence starting with "Required", and the meaning: the other sentences on one
// line.
func ParseComment(text string) (def, meaning string) {
	var defaults, rest []string
	for _, s := range sentences(oneLine(text)) {
		switch {
		case strings.HasPrefix(s, "Default:"):
			defaults = append(defaults, strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "Default:"), ".")))
		case isPrefixed(s, "Required"):
			defaults = append(defaults, "required"+strings.TrimSuffix(strings.TrimPrefix(s, "Required"), "."))
		default:
			rest = append(rest, s)
		}
	}
	return strings.Join(defaults, "; "), strings.Join(rest, " ")
}

// sentences splits text after each period that ends it or is followed by a space and
// an upper-case letter, so "e.g. s3", "1.0" and "go.mod" stay within their sentence.
func sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '.' {
			continue
		}
		end := i+1 == len(text)
		if !end && i+2 < len(text) && text[i+1] == ' ' {
			r, _ := utf8.DecodeRuneInString(text[i+2:])
			end = unicode.IsUpper(r)
		}
		if end {
			out = append(out, strings.TrimSpace(text[start:i+1]))
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func firstParagraph(text string) string {
	p, _, _ := strings.Cut(strings.TrimSpace(text), "\n\n")
	return oneLine(p)
}

func oneLine(text string) string { return strings.Join(strings.Fields(text), " ") }

// isPrefixed reports whether name is prefix followed by a word boundary: "GrantRead" and
// "Grant" for "Grant", not "Granted".
func isPrefixed(name, prefix string) bool {
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(name[len(prefix):])
	return r == utf8.RuneError || !unicode.IsLower(r)
}

func sortFuncs(fs []Func) {
	slices.SortFunc(fs, func(a, b Func) int { return strings.Compare(a.Name, b.Name) })
}
