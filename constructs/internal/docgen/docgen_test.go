package docgen_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/internal/docgen"
)

// load reads a package from source snippets, one per file.
func load(t *testing.T, sources ...string) *docgen.Package {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for i, src := range sources {
		f, err := parser.ParseFile(fset, string(rune('a'+i))+".go", src, parser.ParseComments)
		require.NoError(t, err)
		files = append(files, f)
	}
	p, err := docgen.FromFiles(fset, files)
	require.NoError(t, err)
	return p
}

func TestParseComment(t *testing.T) {
	cases := []struct {
		name, comment, def, meaning string
	}{
		{"default", `Alias names the key. Default: "alias/acme-main-key".`, `"alias/acme-main-key"`, "Alias names the key."},
		{"default over lines, with a clause", "Lets destroy delete it. Default: false; meant for local\nand test stacks only.",
			"false; meant for local and test stacks only", "Lets destroy delete it."},
		{"sentence after the default", "Deletes at once. Default: false. Must not be combined with Window.", "false",
			"Deletes at once. Must not be combined with Window."},
		{"default first", "Default: 7. The waiting period, 7-30.", "7", "The waiting period, 7-30."},
		{"periods inside a sentence", `Adds endpoints (e.g. "kms"). Default: 1.0 (see go.mod).`, "1.0 (see go.mod)", `Adds endpoints (e.g. "kms").`},
		{"an abbreviation inside the default", `Adds endpoints. Default: none, e.g. "kms" or "sts".`, `none, e.g. "kms" or "sts"`, "Adds endpoints."},
		{"required", "Key encrypts every object. Required.", "required", "Key encrypts every object."},
		{"required with a condition", "Subnets hold the load balancer. Required unless Props.Internal.", "required unless Props.Internal", "Subnets hold the load balancer."},
		{"required with an explanation", `Who may connect. Required: say "0.0.0.0/0" explicitly.`, `required: say "0.0.0.0/0" explicitly`, "Who may connect."},
		{"neither", "Names overrides table names; each empty field keeps its default.", "", "Names overrides table names; each empty field keeps its default."},
		{"a word that only starts like Required", "Requiredness is not a flag.", "", "Requiredness is not a flag."},
		{"empty", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			def, meaning := docgen.ParseComment(tc.comment)
			assert.Equal(t, tc.def, def, "default")
			assert.Equal(t, tc.meaning, meaning, "meaning")
		})
	}
}

const thingSource = `// Package thing is a small construct.
package thing

import "github.com/aws/constructs-go/constructs/v10"

// Props configures a Thing.
type Props struct {
	// Name names the thing. Default: "thing".
	Name string
	// Key encrypts it. Required.
	Key keys.IKey
	hidden int
}

// Thing is the construct.
type Thing struct {
	constructs.Construct
	props Props
}

// New creates a Thing.
func New(scope constructs.Construct, id string, props *Props) *Thing { return nil }

// Arn is the thing's ARN.
func (t *Thing) Arn() *string { return nil }

// GrantRead lets role read the thing.
func (t *Thing) GrantRead(role iampolicy.Role) {}
`

// TestMarkdownFormat pins the whole rendering of a small construct.
func TestMarkdownFormat(t *testing.T) {
	want := "## Reference\n" +
		"\n" +
		"Generated from the Go source by `go generate ./constructs/...`: edit the doc comments, not this section.\n" +
		"\n" +
		"### Constructors\n" +
		"\n" +
		"| constructor | meaning |\n" +
		"|---|---|\n" +
		"| `New(scope constructs.Construct, id string, props *Props) *Thing` | New creates a Thing. |\n" +
		"\n" +
		"### Props\n" +
		"\n" +
		"Props configures a Thing.\n" +
		"\n" +
		"| field | type | default | meaning |\n" +
		"|---|---|---|---|\n" +
		"| `Name` | `string` | \"thing\" | Name names the thing. |\n" +
		"| `Key` | `keys.IKey` | required | Key encrypts it. |\n" +
		"\n" +
		"### Thing\n" +
		"\n" +
		"Thing is the construct.\n" +
		"\n" +
		"Embeds `constructs.Construct`.\n" +
		"\n" +
		"| attribute | type | meaning |\n" +
		"|---|---|---|\n" +
		"| `Arn()` | `*string` | Arn is the thing's ARN. |\n" +
		"\n" +
		"| grant | meaning |\n" +
		"|---|---|\n" +
		"| `GrantRead(role iampolicy.Role)` | GrantRead lets role read the thing. |\n"
	assert.Equal(t, want, load(t, thingSource).Markdown())
}

func TestNestedPropsTypesInOrderOfFirstUse(t *testing.T) {
	p := load(t, `package bucket

// Props configures a Bucket.
type Props struct {
	// Rules expire objects. Default: none.
	Rules []*Rule
	// Logs turns on access logs. Default: off.
	Logs *AccessLogs
	// Tags label the bucket. Default: none.
	Tags map[string]Tag
	// Key is another package's type, documented there.
	Key encryptionkey.IKey
	// Mode picks a mode. Default: Fast.
	Mode Mode
}

// Rule is one lifecycle rule.
type Rule struct {
	// Days after creation. Required.
	Days int
	// Filter narrows the rule. Default: every object.
	Filter *Filter
}

// Filter selects objects.
type Filter struct{ Prefix string }

// AccessLogs names the target.
type AccessLogs struct{ Target string }

// Tag is one tag value.
type Tag string

// Mode is how fast.
type Mode int

// The modes.
const (
	Fast Mode = iota
	Slow
)

// Bucket is a bucket.
type Bucket struct{}

// New creates a Bucket.
func New(scope constructs.Construct, id string, props *Props) *Bucket { return nil }
`)
	var names []string
	for _, ty := range p.Props {
		names = append(names, ty.Name)
	}
	require.Equal(t, []string{"Props", "Rule", "AccessLogs", "Tag", "Mode", "Filter"}, names,
		"Props, then what it refers to breadth first; other packages' types are not tables")
	assert.Equal(t, docgen.Field{Name: "Days", Type: "int", Default: "required", Meaning: "Days after creation."}, p.Props[1].Fields[0])
	assert.Equal(t, []string{"Fast", "Slow"}, p.Props[4].Values)

	md := p.Markdown()
	assert.Contains(t, md, "\n### Props\n")
	assert.Contains(t, md, "\n#### Rule\n\nRule is one lifecycle rule.\n\n| field | type | default | meaning |\n")
	assert.Contains(t, md, "| `Filter` | `*Filter` | every object | Filter narrows the rule. |\n")
	assert.Contains(t, md, "| `Prefix` | `string` |  |  |\n", "an undocumented field still gets its row")
	assert.Contains(t, md, "\n#### Mode\n\nMode is how fast.\n\nValues: `Fast`, `Slow`.\n")
	assert.NotContains(t, md, "#### IKey")
}

func TestImporterInputsGetTheirOwnTable(t *testing.T) {
	p := load(t, `package bucket

// Props configures a Bucket.
type Props struct{ Name string }

// Attributes describe a bucket made elsewhere.
type Attributes struct {
	// BucketName names it. Required unless BucketArn is set.
	BucketName string
}

type Bucket struct{}

func New(scope constructs.Construct, id string, props *Props) *Bucket { return nil }

// FromBucketAttributes references an existing bucket.
func FromBucketAttributes(scope constructs.Construct, id string, attrs Attributes) *Bucket { return nil }
`)
	require.Len(t, p.Props, 2)
	assert.Equal(t, "Attributes", p.Props[1].Name)
	assert.False(t, p.Props[1].Nested, "an importer's input is a table of its own, not part of Props")
	assert.Equal(t, "required unless BucketArn is set", p.Props[1].Fields[0].Default)
	assert.Contains(t, p.Markdown(), "\n### Attributes\n")
}

func TestConstructorsAttributesAndGrants(t *testing.T) {
	p := load(t, `package tables

type Props struct{}

// Tables are the tables.
type Tables struct{ constructs.Construct }

// Table is one table.
type Table struct{}

// IBucket is an imported bucket.
type IBucket interface {
	// BucketArn is the ARN.
	BucketArn() *string
	// GrantRead lets role read.
	GrantRead(role iampolicy.Role, prefixes ...string)
}

// FromName references a table set by name.
func FromName(scope constructs.Construct, id, name string) *Tables { return nil }

// FromBucket references a bucket.
func FromBucket(scope constructs.Construct, id, arn string) IBucket { return nil }

// New creates the tables
// under scope.
//
// A second paragraph stays in the source.
func New(scope constructs.Construct, id string, props *Props) *Tables { return nil }

// Users is the users table.
func (t *Tables) Users() *Table { return nil }

// Names returns the names, and an error.
func (t *Tables) Names() (names []string, err error) { return nil, nil }

// GrantReadWrite lets role read and write all tables.
func (t *Tables) GrantReadWrite(role iampolicy.Role) {}

// Granted is not a grant: the word only starts like one.
func (t *Tables) Granted() bool { return false }

// AddIndex adds an index.
func (t *Tables) AddIndex(name string) {}

func (t *Tables) internal() string { return "" }

// Arn is the table's ARN.
func (tb *Table) Arn() *string { return nil }

// GrantRead lets role read the table.
func (tb *Table) GrantRead(role iampolicy.Role) {}
`)
	var ctors []string
	for _, c := range p.Constructors {
		ctors = append(ctors, c.Signature())
	}
	require.Equal(t, []string{
		"New(scope constructs.Construct, id string, props *Props) *Tables",
		"FromBucket(scope constructs.Construct, id, arn string) IBucket",
		"FromName(scope constructs.Construct, id, name string) *Tables",
	}, ctors, "New first, then the importers by name")
	assert.Equal(t, "New creates the tables under scope.", p.Constructors[0].Doc, "the first paragraph, on one line")

	var apis []string
	for _, a := range p.APIs {
		apis = append(apis, a.Name)
	}
	require.Equal(t, []string{"Tables", "IBucket", "Table"}, apis, "what the constructors return, then what their attributes return")

	names := func(fs []docgen.Func) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		return out
	}
	tables := p.APIs[0]
	assert.Equal(t, []string{"Granted", "Names", "Users"}, names(tables.Attributes))
	assert.Equal(t, []string{"GrantReadWrite"}, names(tables.Grants))
	assert.Equal(t, []string{"AddIndex"}, names(tables.Methods))
	assert.Equal(t, []string{"constructs.Construct"}, tables.Embeds)
	assert.Equal(t, "(names []string, err error)", tables.Attributes[1].Results)

	bucket := p.APIs[1]
	assert.Equal(t, []string{"BucketArn"}, names(bucket.Attributes))
	assert.Equal(t, []string{"GrantRead"}, names(bucket.Grants))
	assert.Equal(t, "GrantRead(role iampolicy.Role, prefixes ...string)", bucket.Grants[0].Call)

	md := p.Markdown()
	assert.Contains(t, md, "| `AddIndex(name string)` | AddIndex adds an index. |\n")
	assert.NotContains(t, md, "internal")
}

func TestEscaping(t *testing.T) {
	p := load(t, "package pipe\n\n"+
		"// Props configures it.\n"+
		"type Props struct {\n"+
		"\t// Expr is a|b, named <Name>-tg; `a|b <x>` stays code. Default: \"x|y\" for <Name>.\n"+
		"\tExpr string\n"+
		"\t// Tick is an unmatched ` before <Name>, which Markdown prints as text.\n"+
		"\tTick string\n"+
		"}\n\n"+
		"type Pipe struct{}\n\n"+
		"func New(scope constructs.Construct, id string, props *Props) *Pipe { return nil }\n")
	md := p.Markdown()
	assert.Contains(t, md, "| `Expr` | `string` | \"x\\|y\" for &lt;Name&gt; | Expr is a\\|b, named &lt;Name&gt;-tg; `a\\|b <x>` stays code. |\n")
	assert.Contains(t, md, "| `Tick` | `string` |  | Tick is an unmatched ` before &lt;Name&gt;, which Markdown prints as text. |\n")
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| `Expr`") {
			unescaped := strings.Count(line, "|") - strings.Count(line, `\|`)
			assert.Equal(t, 5, unescaped, "four cells, so five cell borders: %s", line)
		}
	}
}

func TestRenderingDoesNotDependOnFileLayout(t *testing.T) {
	one := load(t, thingSource).Markdown()
	head, tail, ok := strings.Cut(thingSource, "// Arn is")
	require.True(t, ok)
	split := []string{head, "package thing\n\n// Arn is" + tail}
	assert.Equal(t, one, load(t, split[0], split[1]).Markdown())
	assert.Equal(t, one, load(t, split[1], split[0]).Markdown())
}

func TestFromFilesNeedsProps(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "a.go", "package helper\n\nfunc Help() {}\n", parser.ParseComments)
	require.NoError(t, err)
	_, err = docgen.FromFiles(fset, []*ast.File{f})
	assert.ErrorContains(t, err, "no Props struct")
}
