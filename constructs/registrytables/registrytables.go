// Package registrytables provides the five DynamoDB tables the registry runtime uses -
// users, tokens, packages, uploads and downloads - with exactly the key schema the runtime
// expects, encrypted with the project's customer-managed key, billed on demand, with
// point-in-time recovery and deletion protection on.
//
//	key := encryptionkey.New(stack, "ProjectKey", nil)
//	tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key})
//	tables.GrantReadWrite(taskRole)       // item-level actions on all five tables
//	env := tables.Environment()           // REGISTRY_TABLE_USERS=... for the container
//
// # Key schema (all keys strings unless noted)
//
//	users      hash name
//	tokens     hash token_id                  TTL on exp_ts
//	packages   hash pkg_key ("name/version")  GSI by_name (hash name, range version, ALL)
//	uploads    hash id                        TTL on exp_ts
//	downloads  hash id                        GSI by_user (hash user, range ts N, ALL)
//
// # The key policy
//
// New adds no key-policy statement. DynamoDB needs no service-principal statement to
// use a customer managed key: it acts on the key on behalf of whoever creates or uses a
// table, with that caller's IAM permissions. Creating a table needs kms:CreateGrant and
// kms:DescribeKey through DynamoDB (the deployer's concern); the Grant methods give
// readers kms:Decrypt, and writers kms:Encrypt and kms:GenerateDataKey* as well, only via
// dynamodb.<region>. The key policy's root delegation lets those IAM permissions take
// effect.
package registrytables

import (
	"fmt"
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dynamodbtable"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// Default table names, from the security policy.
const (
	DefaultUsersTableName     = "users"
	DefaultTokensTableName    = "tokens"
	DefaultPackagesTableName  = "packages"
	DefaultUploadsTableName   = "uploads"
	DefaultDownloadsTableName = "downloads"
)

// Attribute and index names the runtime reads and writes.
const (
	UsersHashKey         = "name"
	TokensHashKey        = "token_id"
	PackagesHashKey      = "pkg_key"
	PackagesByNameIndex  = "by_name"
	PackagesByNameHash   = "name"
	PackagesByNameRange  = "version"
	UploadsHashKey       = "id"
	DownloadsHashKey     = "id"
	DownloadsByUserIndex = "by_user"
	DownloadsByUserHash  = "user"
	DownloadsByUserRange = "ts" // N, Unix milliseconds
	// ExpiryAttribute holds the Unix time in seconds after which DynamoDB deletes a token
	// or a pending upload.
	ExpiryAttribute = "exp_ts"
)

// Environment variables the runtime reads the table names from.
const (
	EnvUsers     = "REGISTRY_TABLE_USERS"
	EnvTokens    = "REGISTRY_TABLE_TOKENS"
	EnvPackages  = "REGISTRY_TABLE_PACKAGES"
	EnvUploads   = "REGISTRY_TABLE_UPLOADS"
	EnvDownloads = "REGISTRY_TABLE_DOWNLOADS"
)

// Names holds one name per table.
type Names struct {
	Users     string
	Tokens    string
	Packages  string
	Uploads   string
	Downloads string
}

// Props configures the Tables. The zero value (plus EncryptionKey) is the secure default.
type Props struct {
	// EncryptionKey encrypts every table (SSE-KMS). Required.
	EncryptionKey encryptionkey.IKey
	// Names overrides table names; each empty field keeps its default: users, tokens,
	// packages, uploads, downloads.
	Names Names
	// NamePrefix is put before every table name (defaults and overrides alike), so a
	// second copy can live in the same account and region, e.g. "team-b-". Default: "".
	NamePrefix string
	// DisableDeletionProtection lets DeleteTable (and so terraform destroy) delete the
	// tables. Default: false, deletion protection on; meant for local and test stacks.
	DisableDeletionProtection bool
}

// Tables are the registry's five tables.
type Tables struct {
	constructs.Construct
	props  Props
	names  Names // resolved: prefix + override or default
	tables []*Table
	grants int
	errs   validation.Errors
}

// Table is one of the tables.
type Table struct {
	owner   *Tables
	kind    string // Users, Tokens, ... as in Names
	table   dynamodbtable.DynamodbTable
	indexes []string
}

type attribute struct{ name, typ string }

type index struct{ name, hash, rng string }

type schema struct {
	kind       string
	hash       string
	attributes []attribute
	ttl        string
	indexes    []index
}

var schemas = []schema{
	{kind: "Users", hash: UsersHashKey, attributes: []attribute{{UsersHashKey, "S"}}},
	{kind: "Tokens", hash: TokensHashKey, attributes: []attribute{{TokensHashKey, "S"}}, ttl: ExpiryAttribute},
	{kind: "Packages", hash: PackagesHashKey,
		attributes: []attribute{{PackagesHashKey, "S"}, {PackagesByNameHash, "S"}, {PackagesByNameRange, "S"}},
		indexes:    []index{{PackagesByNameIndex, PackagesByNameHash, PackagesByNameRange}}},
	{kind: "Uploads", hash: UploadsHashKey, attributes: []attribute{{UploadsHashKey, "S"}}, ttl: ExpiryAttribute},
	{kind: "Downloads", hash: DownloadsHashKey,
		attributes: []attribute{{DownloadsHashKey, "S"}, {DownloadsByUserHash, "S"}, {DownloadsByUserRange, "N"}},
		indexes:    []index{{DownloadsByUserIndex, DownloadsByUserHash, DownloadsByUserRange}}},
}

// New creates the five tables under scope.
func New(scope constructs.Construct, id string, props *Props) *Tables {
	p := Props{}
	if props != nil {
		p = *props
	}
	t := &Tables{props: p}
	constructs.NewConstruct_Override(t, scope, jsii.String(id))
	validation.Register(t, t.validate)

	defaults := Names{DefaultUsersTableName, DefaultTokensTableName, DefaultPackagesTableName, DefaultUploadsTableName, DefaultDownloadsTableName}
	for _, s := range schemas {
		name := *field(&p.Names, s.kind)
		if name == "" {
			name = *field(&defaults, s.kind)
		}
		*field(&t.names, s.kind) = p.NamePrefix + name
		t.tables = append(t.tables, t.newTable(s, *field(&t.names, s.kind)))
	}
	return t
}

func (t *Tables) newTable(s schema, name string) *Table {
	attrs := make([]*dynamodbtable.DynamodbTableAttribute, 0, len(s.attributes))
	for _, a := range s.attributes {
		attrs = append(attrs, &dynamodbtable.DynamodbTableAttribute{Name: jsii.String(a.name), Type: jsii.String(a.typ)})
	}
	cfg := &dynamodbtable.DynamodbTableConfig{
		Name:                      jsii.String(name),
		BillingMode:               jsii.String("PAY_PER_REQUEST"),
		HashKey:                   jsii.String(s.hash),
		Attribute:                 &attrs,
		PointInTimeRecovery:       &dynamodbtable.DynamodbTablePointInTimeRecovery{Enabled: jsii.Bool(true)},
		DeletionProtectionEnabled: jsii.Bool(!t.props.DisableDeletionProtection),
		ServerSideEncryption:      &dynamodbtable.DynamodbTableServerSideEncryption{Enabled: jsii.Bool(true)},
	}
	if t.props.EncryptionKey != nil {
		cfg.ServerSideEncryption.KmsKeyArn = t.props.EncryptionKey.KeyArn()
	}
	if s.ttl != "" {
		cfg.Ttl = &dynamodbtable.DynamodbTableTtl{AttributeName: jsii.String(s.ttl), Enabled: jsii.Bool(true)}
	}
	if len(s.indexes) > 0 {
		gsis := make([]*dynamodbtable.DynamodbTableGlobalSecondaryIndex, 0, len(s.indexes))
		for _, ix := range s.indexes {
			gsis = append(gsis, &dynamodbtable.DynamodbTableGlobalSecondaryIndex{
				Name: jsii.String(ix.name), HashKey: jsii.String(ix.hash), RangeKey: jsii.String(ix.rng),
				ProjectionType: jsii.String("ALL"),
			})
		}
		cfg.GlobalSecondaryIndex = &gsis
	}
	tbl := &Table{owner: t, kind: s.kind, table: dynamodbtable.NewDynamodbTable(t, jsii.String(s.kind), cfg)}
	for _, ix := range s.indexes {
		tbl.indexes = append(tbl.indexes, *tbl.table.Arn()+"/index/"+ix.name)
	}
	return tbl
}

// field returns the Names field for a table kind.
func field(n *Names, kind string) *string {
	switch kind {
	case "Users":
		return &n.Users
	case "Tokens":
		return &n.Tokens
	case "Packages":
		return &n.Packages
	case "Uploads":
		return &n.Uploads
	case "Downloads":
		return &n.Downloads
	}
	panic("registrytables: unknown table " + kind)
}

// Users is the users table (hash key name).
func (t *Tables) Users() *Table { return t.tables[0] }

// Tokens is the tokens table (hash key token_id, TTL on exp_ts).
func (t *Tables) Tokens() *Table { return t.tables[1] }

// Packages is the packages table (hash key pkg_key, GSI by_name on name + version).
func (t *Tables) Packages() *Table { return t.tables[2] }

// Uploads is the uploads table (hash key id, TTL on exp_ts).
func (t *Tables) Uploads() *Table { return t.tables[3] }

// Downloads is the downloads table (hash key id, GSI by_user on user + ts).
func (t *Tables) Downloads() *Table { return t.tables[4] }

// All returns the five tables in the order users, tokens, packages, uploads, downloads.
func (t *Tables) All() []*Table { return append([]*Table{}, t.tables...) }

// Names returns the table names as references to the deployed tables, so whatever uses
// them (a task definition's environment) is ordered after the tables.
func (t *Tables) Names() Names {
	var n Names
	for _, tbl := range t.tables {
		*field(&n, tbl.kind) = *tbl.Name()
	}
	return n
}

// Environment maps the runtime's REGISTRY_TABLE_* variables to the table names.
func (t *Tables) Environment() map[string]*string {
	return map[string]*string{
		EnvUsers:     t.Users().Name(),
		EnvTokens:    t.Tokens().Name(),
		EnvPackages:  t.Packages().Name(),
		EnvUploads:   t.Uploads().Name(),
		EnvDownloads: t.Downloads().Name(),
	}
}

// EncryptionKey is the key the tables are encrypted with.
func (t *Tables) EncryptionKey() encryptionkey.IKey { return t.props.EncryptionKey }

// GrantReadWrite lets role read and write items in all five tables and query their
// indexes (the actions of Table.GrantReadWrite), with kms encrypt and decrypt on the
// project key only via DynamoDB. No table management actions.
func (t *Tables) GrantReadWrite(role iampolicy.Role) {
	if !t.grant("ReadWrite", "ReadWriteTables", "RegistryTables", role, t.tables, true, true) {
		return
	}
	if t.props.EncryptionKey != nil {
		t.props.EncryptionKey.GrantEncryptDecrypt(role, "dynamodb")
	}
}

// Item-level actions. Reads leave out DescribeTable (schema, key and status are table
// metadata, not items) and PartiQL; transactions need no actions of their own beyond
// these (TransactWriteItems checks PutItem/UpdateItem/DeleteItem/ConditionCheckItem,
// TransactGetItems checks GetItem).
var (
	readActions = []string{
		"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem",
	}
	writeActions = []string{
		"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
	}
)

// grant attaches one inline policy to role: a read statement on the tables and their
// exact index ARNs, and/or a write statement on the tables alone (writes never name an
// index).
func (t *Tables) grant(kind, idKind, sidSubject string, role iampolicy.Role, tables []*Table, read, write bool) bool {
	t.grants++
	if role == nil {
		prefix := ""
		if len(tables) == 1 {
			prefix = tables[0].kind + "()."
		}
		t.errs.Addf(prefix+"Grant"+kind, "role is nil")
		return false
	}
	var tableArns, withIndexes []string
	for _, tbl := range tables {
		tableArns = append(tableArns, *tbl.Arn())
		withIndexes = append(withIndexes, *tbl.Arn())
		withIndexes = append(withIndexes, tbl.indexes...)
	}
	var statements []iampolicy.Statement
	if read {
		statements = append(statements, iampolicy.Statement{Sid: "Read" + sidSubject, Actions: readActions, Resources: withIndexes})
	}
	if write {
		statements = append(statements, iampolicy.Statement{Sid: "Write" + sidSubject, Actions: writeActions, Resources: tableArns})
	}
	iampolicy.Grant(t, iampolicy.GrantID(idKind, role, t.grants), role, statements...)
	return true
}

// Name is the table's name (a reference to the deployed table).
func (tb *Table) Name() *string { return tb.table.Name() }

// Arn is the table's ARN.
func (tb *Table) Arn() *string { return tb.table.Arn() }

// IndexArns are the ARNs of the table's global secondary indexes, if any.
func (tb *Table) IndexArns() []string { return append([]string{}, tb.indexes...) }

// Resource exposes the underlying dynamodb_table for escape hatches.
func (tb *Table) Resource() dynamodbtable.DynamodbTable { return tb.table }

// GrantRead lets role read items of this table and query its indexes (GetItem,
// BatchGetItem, Query, Scan, ConditionCheckItem), with kms:Decrypt on the project key only
// via DynamoDB.
func (tb *Table) GrantRead(role iampolicy.Role) {
	if tb.owner.grant("Read", "Read"+tb.kind, tb.kind+"Table", role, []*Table{tb}, true, false) && tb.owner.props.EncryptionKey != nil {
		tb.owner.props.EncryptionKey.GrantDecrypt(role, "dynamodb")
	}
}

// GrantWrite lets role write items of this table (PutItem, UpdateItem, DeleteItem,
// BatchWriteItem), with kms encrypt and decrypt on the project key only via DynamoDB.
func (tb *Table) GrantWrite(role iampolicy.Role) {
	if tb.owner.grant("Write", "Write"+tb.kind, tb.kind+"Table", role, []*Table{tb}, false, true) && tb.owner.props.EncryptionKey != nil {
		// UpdateItem and conditional writes read the stored item, so writers decrypt too.
		tb.owner.props.EncryptionKey.GrantEncryptDecrypt(role, "dynamodb")
	}
}

// GrantReadWrite combines GrantRead and GrantWrite in one policy.
func (tb *Table) GrantReadWrite(role iampolicy.Role) {
	if tb.owner.grant("ReadWrite", "ReadWrite"+tb.kind, tb.kind+"Table", role, []*Table{tb}, true, true) && tb.owner.props.EncryptionKey != nil {
		tb.owner.props.EncryptionKey.GrantEncryptDecrypt(role, "dynamodb")
	}
}

var (
	tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]*$`)
)

// ValidateTableName checks name against DynamoDB's table name rules and says which rule
// is broken.
func ValidateTableName(name string) error {
	switch {
	case !tableNamePattern.MatchString(name):
		return fmt.Errorf("%q may hold only letters, digits, '_', '-' and '.'", name)
	case len(name) < 3 || len(name) > 255:
		return fmt.Errorf("%q must be 3-255 characters long, got %d", name, len(name))
	}
	return nil
}

func (t *Tables) validate(e *validation.Errors) {
	p := t.props
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the tables are encrypted with the project's customer-managed key")
	}
	prefixOK := true
	if !validation.IsToken(p.NamePrefix) && !tableNamePattern.MatchString(p.NamePrefix) {
		e.Addf("NamePrefix", "%q may hold only letters, digits, '_', '-' and '.'", p.NamePrefix)
		prefixOK = false
	}
	owner := map[string]string{}
	for _, tbl := range t.tables {
		prop := "Names." + tbl.kind
		name := *field(&t.names, tbl.kind)
		if !prefixOK {
			// Judge the name on its own, so a bad prefix is reported once, under NamePrefix.
			name = name[len(p.NamePrefix):]
		}
		if validation.IsToken(name) {
			continue
		}
		if err := ValidateTableName(name); err != nil {
			e.Addf(prop, "table name %v", err)
			continue
		}
		if other, dup := owner[name]; dup {
			e.Addf(prop, "table name %q is also the %s table's name; each table needs its own", name, other)
			continue
		}
		owner[name] = tbl.kind
	}
	e.Merge(&t.errs)
}
