// Package registrytables provides the five DynamoDB tables the registry runtime uses -
// users, tokens, packages, uploads and downloads - with exactly the key schema of the
// deployment contract (runtime/contract), encrypted with the project's customer-managed
// key, billed on demand, with point-in-time recovery and deletion protection on.
//
//	key := encryptionkey.New(stack, "ProjectKey", nil)
//	tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key})
//	tables.GrantReadWrite(taskRole)       // item-level actions on all five tables
//	env := tables.Environment()           // REGISTRY_TABLE_USERS=... for the container
//
// Tables another stack created are imported with FromNames and granted the same way.
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
// table, with that caller's IAM permissions. Creating a table needs kms:CreateGrant,
// kms:DescribeKey and kms:GenerateDataKey through DynamoDB (the deployer's concern). Reads
// and writes alike use the table key, which DynamoDB decrypts with the caller's
// kms:Decrypt (and caches for a few minutes), so every Grant method gives kms:Decrypt
// only via dynamodb.<region> and nothing else on the key. The key policy's root
// delegation lets those IAM permissions take effect.
package registrytables

import (
	"fmt"
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dynamodbtable"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/grant"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/runtime/contract"
)

// Names holds one name per table (contract.TableNames).
type Names = contract.TableNames

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
	// RemovalPolicy removal.Destroy turns deletion protection off, so DeleteTable (and
	// terraform destroy) can delete the tables; for local and test stacks. Default:
	// removal.Retain (deletion protection on).
	RemovalPolicy removal.Policy
}

// ImportProps names tables created elsewhere, for FromNames.
type ImportProps struct {
	// EncryptionKey is the key the tables are encrypted with; grants then extend to it
	// (through DynamoDB only). Default: none.
	EncryptionKey encryptionkey.IKey
	// Names and NamePrefix name the tables as in Props. Default: the default names.
	Names      Names
	NamePrefix string
}

// Tables are the registry's five tables, created by New or imported by FromNames.
type Tables struct {
	constructs.Construct
	key      encryptionkey.IKey
	prefix   string
	names    Names // resolved: prefix + override or default
	tables   []*Table
	imported bool
	grants   *grant.Granter
}

// Table is one of the tables.
type Table struct {
	owner   *Tables
	kind    contract.TableKind
	name    *string
	arn     *string
	indexes []string
	table   dynamodbtable.DynamodbTable // nil for an imported table
}

// New creates the five tables under scope.
func New(scope constructs.Construct, id string, props *Props) *Tables {
	p := defaults.Copy(props)
	t := newTables(scope, id, p.EncryptionKey, p.Names, p.NamePrefix, false)
	for _, s := range contract.Tables() {
		t.tables = append(t.tables, t.newTable(s, p.RemovalPolicy))
	}
	validation.Register(t, func(e *validation.Errors) {
		e.CheckRemovalPolicy(p.RemovalPolicy)
		t.validate(e)
	})
	return t
}

// FromNames references the registry's tables created elsewhere (by another stack or
// team) by name, so roles of this stack can be granted item access with the same narrow
// statements as tables it owns. Nothing is created.
func FromNames(scope constructs.Construct, id string, props *ImportProps) *Tables {
	p := defaults.Copy(props)
	t := newTables(scope, id, p.EncryptionKey, p.Names, p.NamePrefix, true)
	env := awsenv.Of(t)
	for _, s := range contract.Tables() {
		name := t.names.Get(s.Kind)
		arn := fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", *env.Partition, *env.Region, *env.AccountID, name)
		t.tables = append(t.tables, t.table(s, jsii.String(name), jsii.String(arn), nil))
	}
	validation.Register(t, t.validate)
	return t
}

func newTables(scope constructs.Construct, id string, key encryptionkey.IKey, overrides Names, prefix string, imported bool) *Tables {
	t := &Tables{key: key, prefix: prefix, imported: imported}
	constructs.NewConstruct_Override(t, scope, jsii.String(id))
	t.grants = grant.New(t)
	for _, s := range contract.Tables() {
		name := overrides.Get(s.Kind)
		if name == "" {
			name = s.DefaultName()
		}
		t.names = t.names.With(s.Kind, prefix+name)
	}
	return t
}

func (t *Tables) newTable(s contract.Table, policy removal.Policy) *Table {
	attrs := make([]*dynamodbtable.DynamodbTableAttribute, 0, 3)
	for _, a := range s.Attributes() {
		attrs = append(attrs, &dynamodbtable.DynamodbTableAttribute{Name: jsii.String(a.Name), Type: jsii.String(string(a.Type))})
	}
	cfg := &dynamodbtable.DynamodbTableConfig{
		Name:                      jsii.String(t.names.Get(s.Kind)),
		BillingMode:               jsii.String("PAY_PER_REQUEST"),
		HashKey:                   jsii.String(s.Hash.Name),
		Attribute:                 &attrs,
		PointInTimeRecovery:       &dynamodbtable.DynamodbTablePointInTimeRecovery{Enabled: jsii.Bool(true)},
		DeletionProtectionEnabled: jsii.Bool(!policy.Destroys()),
		ServerSideEncryption:      &dynamodbtable.DynamodbTableServerSideEncryption{Enabled: jsii.Bool(true)},
	}
	if t.key != nil {
		cfg.ServerSideEncryption.KmsKeyArn = t.key.KeyArn()
	}
	if s.TTL != "" {
		cfg.Ttl = &dynamodbtable.DynamodbTableTtl{AttributeName: jsii.String(s.TTL), Enabled: jsii.Bool(true)}
	}
	if len(s.Indexes) > 0 {
		gsis := make([]*dynamodbtable.DynamodbTableGlobalSecondaryIndex, 0, len(s.Indexes))
		for _, ix := range s.Indexes {
			gsis = append(gsis, &dynamodbtable.DynamodbTableGlobalSecondaryIndex{
				Name: jsii.String(ix.Name), HashKey: jsii.String(ix.Hash.Name), RangeKey: jsii.String(ix.Range.Name),
				ProjectionType: jsii.String("ALL"),
			})
		}
		cfg.GlobalSecondaryIndex = &gsis
	}
	res := dynamodbtable.NewDynamodbTable(t, jsii.String(kindID(s.Kind)), cfg)
	return t.table(s, res.Name(), res.Arn(), res)
}

func (t *Tables) table(s contract.Table, name, arn *string, res dynamodbtable.DynamodbTable) *Table {
	tbl := &Table{owner: t, kind: s.Kind, name: name, arn: arn, table: res}
	for _, ix := range s.Indexes {
		tbl.indexes = append(tbl.indexes, *arn+"/index/"+ix.Name)
	}
	return tbl
}

// kindID is the construct id and statement subject of a table: "Users", "Tokens", ...
func kindID(kind contract.TableKind) string { return validation.PascalCase(string(kind)) }

func (t *Tables) of(kind contract.TableKind) *Table {
	for _, tbl := range t.tables {
		if tbl.kind == kind {
			return tbl
		}
	}
	panic("registrytables: no table " + string(kind))
}

// Users is the users table (hash key name).
func (t *Tables) Users() *Table { return t.of(contract.Users) }

// Tokens is the tokens table (hash key token_id, TTL on exp_ts).
func (t *Tables) Tokens() *Table { return t.of(contract.Tokens) }

// Packages is the packages table (hash key pkg_key, GSI by_name on name + version).
func (t *Tables) Packages() *Table { return t.of(contract.Packages) }

// Uploads is the uploads table (hash key id, TTL on exp_ts).
func (t *Tables) Uploads() *Table { return t.of(contract.Uploads) }

// Downloads is the downloads table (hash key id, GSI by_user on user + ts).
func (t *Tables) Downloads() *Table { return t.of(contract.Downloads) }

// All returns the five tables in the order users, tokens, packages, uploads, downloads.
func (t *Tables) All() []*Table { return append([]*Table{}, t.tables...) }

// Names returns the table names; for created tables they are references to the deployed
// tables, so whatever uses them (a task definition's environment) is ordered after them.
func (t *Tables) Names() Names {
	var n Names
	for _, tbl := range t.tables {
		n = n.With(tbl.kind, *tbl.Name())
	}
	return n
}

// Environment maps the runtime's REGISTRY_TABLE_* variables to the table names.
func (t *Tables) Environment() map[string]*string {
	env := map[string]*string{}
	for _, tbl := range t.tables {
		env[contract.TableOf(tbl.kind).EnvVar] = tbl.Name()
	}
	return env
}

// EncryptionKey is the key the tables are encrypted with.
func (t *Tables) EncryptionKey() encryptionkey.IKey { return t.key }

// GrantReadWrite lets role read and write items in all five tables and query their
// indexes (the actions of Table.GrantReadWrite), with kms:Decrypt on the
// project key only via DynamoDB. No table management actions.
func (t *Tables) GrantReadWrite(role iampolicy.Role) {
	t.grant("ReadWrite", "", "RegistryTables", role, t.tables, true, true)
}

// Item-level actions, the ones the registry's runtime calls: single-item reads and
// writes (conditional writes included) and queries. Left out: DescribeTable (schema, key
// and status are table metadata, not items), PartiQL, and the batch and transaction
// actions (BatchGetItem, BatchWriteItem, ConditionCheckItem), which nothing uses.
var (
	readActions  = []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}
	writeActions = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
)

// grant attaches one inline policy to role: a read statement on the tables and their
// exact index ARNs, and/or a write statement on the tables alone (writes never name an
// index). Readers and writers alike need kms:Decrypt of the table key.
func (t *Tables) grant(kind, table, sidSubject string, role iampolicy.Role, tables []*Table, read, write bool) {
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
	req := grant.Request{Kind: kind + "Tables", Prop: "Grant" + kind, Role: role, Statements: statements, Key: t.key, KeyUse: grant.Decrypt, Via: "dynamodb"}
	if table != "" {
		req.Kind, req.Prop = kind+table, table+"().Grant"+kind
	}
	t.grants.Grant(req)
}

// Name is the table's name (for a created table, a reference to the deployed table).
func (tb *Table) Name() *string { return tb.name }

// Arn is the table's ARN.
func (tb *Table) Arn() *string { return tb.arn }

// IndexArns are the ARNs of the table's global secondary indexes, if any.
func (tb *Table) IndexArns() []string { return append([]string{}, tb.indexes...) }

// Resource exposes the underlying dynamodb_table for escape hatches; nil for an
// imported table.
func (tb *Table) Resource() dynamodbtable.DynamodbTable { return tb.table }

// GrantRead lets role read items of this table and query its indexes (GetItem, Query,
// Scan), with kms:Decrypt on the project key only
// via DynamoDB.
func (tb *Table) GrantRead(role iampolicy.Role) { tb.grant("Read", role, true, false) }

// GrantWrite lets role write items of this table (PutItem, UpdateItem, DeleteItem), with kms:Decrypt on the project key (the table key) only via DynamoDB.
func (tb *Table) GrantWrite(role iampolicy.Role) { tb.grant("Write", role, false, true) }

// GrantReadWrite combines GrantRead and GrantWrite in one policy.
func (tb *Table) GrantReadWrite(role iampolicy.Role) { tb.grant("ReadWrite", role, true, true) }

func (tb *Table) grant(kind string, role iampolicy.Role, read, write bool) {
	id := kindID(tb.kind)
	tb.owner.grant(kind, id, id+"Table", role, []*Table{tb}, read, write)
}

var tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]*$`)

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
	if t.key == nil && !t.imported {
		e.Addf("EncryptionKey", "is required: the tables are encrypted with the project's customer-managed key")
	}
	prefixOK := true
	if !validation.IsToken(t.prefix) && !tableNamePattern.MatchString(t.prefix) {
		e.Addf("NamePrefix", "%q may hold only letters, digits, '_', '-' and '.'", t.prefix)
		prefixOK = false
	}
	owner := map[string]contract.TableKind{}
	for _, tbl := range t.tables {
		prop := "Names." + kindID(tbl.kind)
		name := t.names.Get(tbl.kind)
		if !prefixOK {
			// Judge the name on its own, so a bad prefix is reported once, under NamePrefix.
			name = name[len(t.prefix):]
		}
		if validation.IsToken(name) {
			continue
		}
		if err := ValidateTableName(name); err != nil {
			e.Addf(prop, "table name %v", err)
			continue
		}
		if other, dup := owner[name]; dup {
			e.Addf(prop, "table name %q is also the %s table's name; each table needs its own", name, kindID(other))
			continue
		}
		owner[name] = tbl.kind
	}
	t.grants.Validate(e)
}
