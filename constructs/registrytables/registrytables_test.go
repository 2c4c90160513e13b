package registrytables_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/registrytables"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/runtime/contract"
)

const sharedKeyArn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

var (
	keyRef   = regexp.MustCompile(`^\$\{aws_kms_key\.[^.]+\.arn\}$`)
	tableRef = regexp.MustCompile(`^\$\{aws_dynamodb_table\.([^.]+)\.(arn|name)\}`)
)

// byName indexes the synthesized tables by their name.
func byName(t *testing.T, out *synthtest.Result) map[string]map[string]any {
	t.Helper()
	m := map[string]map[string]any{}
	for _, r := range out.Resources("aws_dynamodb_table") {
		name, _ := r["name"].(string)
		require.NotContains(t, m, name, "two tables named %q", name)
		m[name] = r
	}
	return m
}

func list(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		out = append(out, x.(map[string]any))
	}
	return out
}

func attributes(r map[string]any) map[string]string {
	out := map[string]string{}
	for _, a := range list(r["attribute"]) {
		out[a["name"].(string)] = a["type"].(string)
	}
	return out
}

func TestKeySchemaMatchesTheContract(t *testing.T) {
	stack := synthtest.NewStack(t)
	registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)})
	tables := byName(t, synthtest.Synth(t, stack))
	require.Len(t, tables, 5)

	type gsi struct{ Name, Hash, Range, Projection string }
	want := map[string]struct {
		hash  string
		attrs map[string]string
		ttl   string
		gsis  []gsi
	}{
		"users":     {hash: "name", attrs: map[string]string{"name": "S"}},
		"tokens":    {hash: "token_id", attrs: map[string]string{"token_id": "S"}, ttl: "exp_ts"},
		"packages":  {hash: "pkg_key", attrs: map[string]string{"pkg_key": "S", "name": "S", "version": "S"}, gsis: []gsi{{"by_name", "name", "version", "ALL"}}},
		"uploads":   {hash: "id", attrs: map[string]string{"id": "S"}, ttl: "exp_ts"},
		"downloads": {hash: "id", attrs: map[string]string{"id": "S", "user": "S", "ts": "N"}, gsis: []gsi{{"by_user", "user", "ts", "ALL"}}},
	}
	for name, w := range want {
		tbl := tables[name]
		require.NotNil(t, tbl, "table %s", name)
		assert.Equal(t, w.hash, tbl["hash_key"], name)
		assert.NotContains(t, tbl, "range_key", "%s has a hash key only", name)
		assert.Equal(t, w.attrs, attributes(tbl), "%s declares exactly its key attributes", name)
		if w.ttl != "" {
			assert.Equal(t, map[string]any{"attribute_name": w.ttl, "enabled": true}, tbl["ttl"], name)
		} else {
			assert.NotContains(t, tbl, "ttl", name)
		}
		var got []gsi
		for _, g := range list(tbl["global_secondary_index"]) {
			assert.Len(t, g, 4, "%s: no other index settings (throughput, non-key attributes)", name)
			got = append(got, gsi{g["name"].(string), g["hash_key"].(string), g["range_key"].(string), g["projection_type"].(string)})
		}
		assert.Equal(t, w.gsis, got, name)
		assert.NotContains(t, tbl, "local_secondary_index", name)
	}
}

// The synthesized tables are the contract's, read from the contract itself: a table, key,
// index or TTL attribute added to runtime/contract reaches the deployed schema.
func TestSynthesizedSchemaIsTheContract(t *testing.T) {
	stack := synthtest.NewStack(t)
	registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)})
	tables := byName(t, synthtest.Synth(t, stack))
	require.Len(t, tables, len(contract.Tables()))
	for _, want := range contract.Tables() {
		tbl := tables[want.DefaultName()]
		require.NotNil(t, tbl, "table %s", want.Kind)
		assert.Equal(t, want.Hash.Name, tbl["hash_key"])
		attrs := map[string]string{}
		for _, a := range want.Attributes() {
			attrs[a.Name] = string(a.Type)
		}
		assert.Equal(t, attrs, attributes(tbl), "%s: attribute definitions", want.Kind)
		var indexes []contract.Index
		for _, g := range list(tbl["global_secondary_index"]) {
			indexes = append(indexes, contract.Index{Name: g["name"].(string),
				Hash:  contract.Attribute{Name: g["hash_key"].(string), Type: contract.AttributeType(attrs[g["hash_key"].(string)])},
				Range: contract.Attribute{Name: g["range_key"].(string), Type: contract.AttributeType(attrs[g["range_key"].(string)])}})
		}
		assert.Equal(t, want.Indexes, indexes, "%s: indexes", want.Kind)
		ttl, _ := tbl["ttl"].(map[string]any)
		assert.Equal(t, want.TTL, stringOr(ttl["attribute_name"]), "%s: TTL attribute", want.Kind)
	}
}

func stringOr(v any) string {
	s, _ := v.(string)
	return s
}

// Tables another stack created: nothing is made, grants are the same item-level
// statements on their ARNs and exact index ARNs, and the environment names them.
func TestFromNamesGrantsLikeCreatedTables(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)
	tables := registrytables.FromNames(stack, "Shared", &registrytables.ImportProps{EncryptionKey: key, NamePrefix: "team-a-"})
	role := synthtest.Role(stack, "Reports")
	tables.Downloads().GrantRead(role)
	tables.GrantReadWrite(synthtest.Role(stack, "Task"))
	out := synthtest.Synth(t, stack)
	assert.Empty(t, out.Resources("aws_dynamodb_table"), "nothing is created")
	assert.Equal(t, "team-a-downloads", *tables.Downloads().Name())
	assert.Equal(t, "team-a-users", *tables.Environment()[contract.TableOf(contract.Users).EnvVar])
	assert.Regexp(t, `^arn:.*:dynamodb:.*:table/team-a-downloads$`, *tables.Downloads().Arn())
	assert.Equal(t, []string{*tables.Downloads().Arn() + "/index/by_user"}, tables.Downloads().IndexArns())
	assert.Nil(t, tables.Downloads().Resource())

	st := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		for _, s := range out.PolicyStatements(t, p["policy"]) {
			st[s["sid"].(string)] = s
		}
	}
	require.Contains(t, st, "ReadDownloadsTable")
	read := synthtest.Strings(st["ReadDownloadsTable"]["resources"])
	require.Len(t, read, 2)
	assert.Regexp(t, `:table/team-a-downloads$`, read[0])
	assert.Equal(t, read[0]+"/index/by_user", read[1])
	require.Contains(t, st, "WriteRegistryTables")
	assert.Len(t, synthtest.Strings(st["WriteRegistryTables"]["resources"]), 5)
	require.Contains(t, st, "UseKeyDecrypt", "the given key, through DynamoDB")
	assert.Equal(t, []string{sharedKeyArn}, synthtest.Strings(st["UseKeyDecrypt"]["resources"]))
	assert.NotContains(t, st, "UseKeyEncryptDecrypt", "writers decrypt the table key too, nothing more")
}

func TestFromNamesValidatesNames(t *testing.T) {
	stack := synthtest.NewStack(t)
	registrytables.FromNames(stack, "Shared", &registrytables.ImportProps{Names: registrytables.Names{Users: "x"}})
	errs := strings.Join(synthtest.ValidationErrors(t, stack), "\n")
	assert.Contains(t, errs, `[test/Shared] Names.Users: table name "x" must be 3-255 characters long`)
	assert.NotContains(t, errs, "EncryptionKey", "an imported table's key is optional")
}

func TestDefaultsAreSecure(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key})
	out := synthtest.Synth(t, stack)
	for name, tbl := range byName(t, out) {
		assert.Equal(t, "PAY_PER_REQUEST", tbl["billing_mode"], name)
		assert.NotContains(t, tbl, "read_capacity", name)
		assert.NotContains(t, tbl, "write_capacity", name)
		assert.Equal(t, map[string]any{"enabled": true}, tbl["point_in_time_recovery"], "%s: PITR on", name)
		assert.Equal(t, true, tbl["deletion_protection_enabled"], "%s: deletion protection on by default", name)
		sse, _ := tbl["server_side_encryption"].(map[string]any)
		require.NotNil(t, sse, name)
		assert.Equal(t, true, sse["enabled"], "%s: SSE-KMS", name)
		assert.Regexp(t, keyRef, sse["kms_key_arn"], "%s: with the project key", name)
		assert.NotContains(t, tbl, "stream_enabled", name)
	}
	// DynamoDB uses the key with its callers' IAM permissions: no key-policy statement.
	assert.Len(t, key.PolicyStatements(), 1)
	assert.Equal(t, encryptionkey.RootAdministrationSid, key.PolicyStatements()[0].Sid)
	assert.Empty(t, out.Resources("aws_iam_role_policy"), "no grants unless asked")
}

func TestRemovalPolicyDestroyLiftsDeletionProtection(t *testing.T) {
	stack := synthtest.NewStack(t)
	registrytables.New(stack, "Tables", &registrytables.Props{
		EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn), RemovalPolicy: removal.Destroy,
	})
	tables := byName(t, synthtest.Synth(t, stack))
	require.Len(t, tables, 5)
	for name, tbl := range tables {
		assert.Equal(t, false, tbl["deletion_protection_enabled"], name)
		assert.Equal(t, sharedKeyArn, tbl["server_side_encryption"].(map[string]any)["kms_key_arn"], name)
	}
}

func TestNamesPrefixAndEnvironment(t *testing.T) {
	stack := synthtest.NewStack(t)
	key := encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)
	tables := registrytables.New(stack, "Tables", &registrytables.Props{
		EncryptionKey: key,
		NamePrefix:    "team-b.",
		Names:         registrytables.Names{Users: "accounts", Downloads: "Download_Log"},
	})
	// A second copy in the same stack: the prefix keeps the names apart.
	registrytables.New(stack, "Other", &registrytables.Props{EncryptionKey: key})
	// Names, Environment and each table's Name are references to the tables, so whatever
	// uses them is ordered after the tables.
	names := tables.Names()
	env := tables.Environment()
	output := func(id string, v *string) {
		cdktf.NewTerraformOutput(stack, jsii.String(id), &cdktf.TerraformOutputConfig{Value: v, StaticId: jsii.Bool(true)})
	}
	want := map[string]string{}
	for _, c := range []struct {
		name, env string
		table     *registrytables.Table
		fromNames string
	}{
		{"team-b.accounts", contract.TableOf(contract.Users).EnvVar, tables.Users(), names.Users},
		{"team-b.tokens", contract.TableOf(contract.Tokens).EnvVar, tables.Tokens(), names.Tokens},
		{"team-b.packages", contract.TableOf(contract.Packages).EnvVar, tables.Packages(), names.Packages},
		{"team-b.uploads", contract.TableOf(contract.Uploads).EnvVar, tables.Uploads(), names.Uploads},
		{"team-b.Download_Log", contract.TableOf(contract.Downloads).EnvVar, tables.Downloads(), names.Downloads},
	} {
		output("names_"+c.env, jsii.String(c.fromNames))
		output("env_"+c.env, env[c.env])
		output("table_"+c.env, c.table.Name())
		want[c.env] = c.name
	}
	out := synthtest.Synth(t, stack)
	all := byName(t, out)
	assert.Len(t, all, 10)
	for _, n := range []string{"team-b.accounts", "team-b.tokens", "team-b.packages", "team-b.uploads", "team-b.Download_Log",
		"users", "tokens", "packages", "uploads", "downloads"} {
		assert.Contains(t, all, n)
	}
	outputs := out.Tree["output"].(map[string]any)
	for envVar, name := range want {
		for _, source := range []string{"names_", "env_", "table_"} {
			value := outputs[source+envVar].(map[string]any)["value"].(string)
			m := tableRef.FindStringSubmatch(value)
			require.NotNil(t, m, "%s%s: %q is not a table reference", source, envVar, value)
			assert.Equal(t, "name", m[2])
			assert.Equal(t, name, out.Resources("aws_dynamodb_table")[m[1]]["name"], "%s%s", source, envVar)
		}
	}
	assert.Len(t, env, 5)
	for _, v := range []string{"REGISTRY_TABLE_USERS", "REGISTRY_TABLE_TOKENS", "REGISTRY_TABLE_PACKAGES", "REGISTRY_TABLE_UPLOADS", "REGISTRY_TABLE_DOWNLOADS"} {
		assert.Contains(t, env, v, "the contract's variable names")
	}
	assert.Len(t, tables.All(), 5)
	assert.Empty(t, tables.Users().IndexArns())
	assert.Len(t, tables.Packages().IndexArns(), 1)
	assert.Len(t, tables.Downloads().IndexArns(), 1)
}

// grantStatements returns every statement of every inline policy, by Sid, and fails on
// duplicates.
func grantStatements(t *testing.T, out *synthtest.Result) map[string]map[string]any {
	t.Helper()
	st := map[string]map[string]any{}
	for _, p := range out.Resources("aws_iam_role_policy") {
		assert.Regexp(t, `^\$\{aws_iam_role\.[^.]+\.name\}$`, p["role"])
		for _, s := range out.PolicyStatements(t, p["policy"]) {
			sid := s["sid"].(string)
			require.NotContains(t, st, sid, "duplicate statement %s", sid)
			st[sid] = s
		}
	}
	return st
}

var (
	readActions  = []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}
	writeActions = []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
)

// resources maps each resource of a statement to "<table name>" or "<table name>/index/<index>".
func resources(t *testing.T, out *synthtest.Result, st map[string]any) []string {
	t.Helper()
	tables := out.Resources("aws_dynamodb_table")
	var names []string
	for _, r := range synthtest.Strings(st["resources"]) {
		m := regexp.MustCompile(`^\$\{aws_dynamodb_table\.([^.]+)\.arn\}(.*)$`).FindStringSubmatch(r)
		require.NotNil(t, m, "resource %q is not a table ARN", r)
		require.Contains(t, tables, m[1])
		names = append(names, tables[m[1]]["name"].(string)+m[2])
	}
	return names
}

func assertKMSGrant(t *testing.T, st map[string]any, actions ...string) {
	t.Helper()
	require.NotNil(t, st, "kms statement")
	assert.ElementsMatch(t, actions, synthtest.Strings(st["actions"]))
	assert.Equal(t, []string{sharedKeyArn}, synthtest.Strings(st["resources"]), "the project key only")
	via := synthtest.Conditions(st)["StringEquals kms:ViaService"]
	require.Len(t, via, 1)
	assert.Regexp(t, `^dynamodb\.\$\{data\.aws_region\.[^}]+\}\.`, via[0], "only through DynamoDB")
	assert.Len(t, synthtest.Conditions(st), 1)
}

func TestTablesGrantReadWriteCoversAllFiveItemLevelOnly(t *testing.T) {
	stack := synthtest.NewStack(t)
	tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)})
	tables.GrantReadWrite(synthtest.Role(stack, "Task"))
	out := synthtest.Synth(t, stack)
	st := grantStatements(t, out)
	require.Len(t, st, 3, "read, write, kms")

	read := st["ReadRegistryTables"]
	require.NotNil(t, read)
	assert.ElementsMatch(t, readActions, synthtest.Strings(read["actions"]))
	assert.ElementsMatch(t, []string{"users", "tokens", "packages", "packages/index/by_name", "uploads", "downloads", "downloads/index/by_user"},
		resources(t, out, read), "the tables and their exact indexes")
	assert.Empty(t, synthtest.Conditions(read))

	write := st["WriteRegistryTables"]
	require.NotNil(t, write)
	assert.ElementsMatch(t, writeActions, synthtest.Strings(write["actions"]))
	assert.ElementsMatch(t, []string{"users", "tokens", "packages", "uploads", "downloads"}, resources(t, out, write), "writes never name an index")

	assertKMSGrant(t, st["UseKeyDecrypt"], "kms:Decrypt")
	assertNoManagementActions(t, st)
}

func assertNoManagementActions(t *testing.T, st map[string]map[string]any) {
	t.Helper()
	allowed := map[string]bool{}
	for _, a := range append(append([]string{}, readActions...), writeActions...) {
		allowed[a] = true
	}
	for sid, s := range st {
		assert.NotEqual(t, "Deny", s["effect"])
		for _, a := range synthtest.Strings(s["actions"]) {
			if strings.HasPrefix(a, "dynamodb:") {
				assert.True(t, allowed[a], "%s: %s is not an item-level action", sid, a)
			}
			assert.NotContains(t, a, "*:", sid)
			assert.NotEqual(t, "*", a, sid)
		}
		for _, r := range synthtest.Strings(s["resources"]) {
			assert.NotEqual(t, "*", r, sid)
			assert.NotContains(t, r, "/index/*", "%s: exact index ARNs, not a wildcard", sid)
		}
	}
}

func TestTableGrants(t *testing.T) {
	for _, tc := range []struct {
		name      string
		grant     func(*registrytables.Tables, iamrole.IamRole)
		sids      map[string][]string // sid -> resources
		read      bool
		write     bool
		kmsAction []string
	}{
		{"PackagesRead", func(ts *registrytables.Tables, r iamrole.IamRole) { ts.Packages().GrantRead(r) },
			map[string][]string{"ReadPackagesTable": {"packages", "packages/index/by_name"}}, true, false,
			[]string{"kms:Decrypt"}},
		{"UsersRead", func(ts *registrytables.Tables, r iamrole.IamRole) { ts.Users().GrantRead(r) },
			map[string][]string{"ReadUsersTable": {"users"}}, true, false, []string{"kms:Decrypt"}},
		{"DownloadsWrite", func(ts *registrytables.Tables, r iamrole.IamRole) { ts.Downloads().GrantWrite(r) },
			map[string][]string{"WriteDownloadsTable": {"downloads"}}, false, true,
			[]string{"kms:Decrypt"}},
		{"TokensReadWrite", func(ts *registrytables.Tables, r iamrole.IamRole) { ts.Tokens().GrantReadWrite(r) },
			map[string][]string{"ReadTokensTable": {"tokens"}, "WriteTokensTable": {"tokens"}}, true, true,
			[]string{"kms:Decrypt"}},
		{"DownloadsReadWrite", func(ts *registrytables.Tables, r iamrole.IamRole) { ts.Downloads().GrantReadWrite(r) },
			map[string][]string{"ReadDownloadsTable": {"downloads", "downloads/index/by_user"}, "WriteDownloadsTable": {"downloads"}}, true, true,
			[]string{"kms:Decrypt"}},
		{"UploadsReadWrite", func(ts *registrytables.Tables, r iamrole.IamRole) { ts.Uploads().GrantReadWrite(r) },
			map[string][]string{"ReadUploadsTable": {"uploads"}, "WriteUploadsTable": {"uploads"}}, true, true,
			[]string{"kms:Decrypt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := synthtest.NewStack(t)
			tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)})
			tc.grant(tables, synthtest.Role(stack, "Task"))
			out := synthtest.Synth(t, stack)
			st := grantStatements(t, out)
			require.Len(t, st, len(tc.sids)+1, "the table statements and one kms statement")
			for sid, want := range tc.sids {
				s := st[sid]
				require.NotNil(t, s, sid)
				assert.ElementsMatch(t, want, resources(t, out, s), sid)
				if strings.HasPrefix(sid, "Read") {
					assert.ElementsMatch(t, readActions, synthtest.Strings(s["actions"]))
				} else {
					assert.ElementsMatch(t, writeActions, synthtest.Strings(s["actions"]))
				}
			}
			assertKMSGrant(t, st["UseKeyDecrypt"], tc.kmsAction...)
			assertNoManagementActions(t, st)
		})
	}
}

func TestSeveralGrantsToOneRoleDoNotCollide(t *testing.T) {
	stack := synthtest.NewStack(t)
	tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)})
	role := synthtest.Role(stack, "Task")
	tables.Users().GrantRead(role)
	tables.Users().GrantRead(role)
	tables.GrantReadWrite(role)
	out := synthtest.Synth(t, stack)
	// One table policy and one kms policy per call.
	assert.Len(t, out.Resources("aws_iam_role_policy"), 6)
}

func TestTokenNamesAreLeftToDeployTime(t *testing.T) {
	stack := synthtest.NewStack(t)
	v := cdktf.NewTerraformVariable(stack, jsii.String("users_table"), &cdktf.TerraformVariableConfig{Type: jsii.String("string")})
	registrytables.New(stack, "Tables", &registrytables.Props{
		EncryptionKey: encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn),
		Names:         registrytables.Names{Users: *v.StringValue()},
	})
	out := synthtest.Synth(t, stack)
	assert.Contains(t, byName(t, out), "${var.users_table}")
}

func TestInvalidPropsListEveryViolation(t *testing.T) {
	stack := synthtest.NewStack(t)
	tables := registrytables.New(stack, "Tables", &registrytables.Props{
		Names: registrytables.Names{
			Users:     "ab",
			Tokens:    "bad name!",
			Packages:  strings.Repeat("p", 256),
			Uploads:   "downloads",
			Downloads: "",
		},
	})
	tables.GrantReadWrite(nil)
	tables.Packages().GrantRead(nil)
	tables.Users().GrantWrite(nil)
	tables.Tokens().GrantReadWrite(nil)
	errs := synthtest.ValidationErrors(t, stack)
	want := []string{
		"EncryptionKey: is required: the tables are encrypted with the project's customer-managed key",
		`Names.Users: table name "ab" must be 3-255 characters long, got 2`,
		`Names.Tokens: table name "bad name!" may hold only letters, digits, '_', '-' and '.'`,
		`Names.Packages: table name "` + strings.Repeat("p", 256) + `" must be 3-255 characters long, got 256`,
		`Names.Downloads: table name "downloads" is also the Uploads table's name; each table needs its own`,
		"GrantReadWrite: role is nil",
		"Packages().GrantRead: role is nil",
		"Users().GrantWrite: role is nil",
		"Tokens().GrantReadWrite: role is nil",
	}
	assert.ElementsMatch(t, prefixed("[test/Tables] ", want), errs)
}

func TestNamePrefixRules(t *testing.T) {
	for _, tc := range []struct {
		props registrytables.Props
		want  []string
	}{
		{registrytables.Props{NamePrefix: "team b/"}, []string{`NamePrefix: "team b/" may hold only letters, digits, '_', '-' and '.'`}},
		{registrytables.Props{NamePrefix: "x/", Names: registrytables.Names{Users: "u"}}, []string{
			`NamePrefix: "x/" may hold only letters, digits, '_', '-' and '.'`,
			`Names.Users: table name "u" must be 3-255 characters long, got 1`,
		}},
		// "downloads" is the longest default: 246 + 9 = 255 characters is allowed, 247 is not.
		{registrytables.Props{NamePrefix: strings.Repeat("a", 246)}, nil},
		{registrytables.Props{NamePrefix: strings.Repeat("a", 247)}, []string{
			`Names.Downloads: table name "` + strings.Repeat("a", 247) + `downloads" must be 3-255 characters long, got 256`,
		}},
		{registrytables.Props{NamePrefix: strings.Repeat("a", 247), Names: registrytables.Names{Downloads: "dls"}}, nil},
		{registrytables.Props{Names: registrytables.Names{Users: "tokens"}}, []string{
			`Names.Tokens: table name "tokens" is also the Users table's name; each table needs its own`,
		}},
		{registrytables.Props{NamePrefix: "p-", Names: registrytables.Names{Uploads: "packages"}}, []string{
			`Names.Uploads: table name "p-packages" is also the Packages table's name; each table needs its own`,
		}},
	} {
		stack := synthtest.NewStack(t)
		tc.props.EncryptionKey = encryptionkey.FromKeyArn(stack, "Key", sharedKeyArn)
		registrytables.New(stack, "Tables", &tc.props)
		if len(tc.want) == 0 {
			synthtest.Synth(t, stack)
			continue
		}
		assert.ElementsMatch(t, prefixed("[test/Tables] ", tc.want), synthtest.ValidationErrors(t, stack), "prefix %.10q", tc.props.NamePrefix)
	}
}

func TestValidateTableName(t *testing.T) {
	for _, ok := range []string{"abc", "users", "a.b-c_D9", strings.Repeat("x", 255)} {
		assert.NoError(t, registrytables.ValidateTableName(ok), ok)
	}
	for _, bad := range []string{"", "ab", "a b", "tab/le", "täble", strings.Repeat("x", 256)} {
		assert.Error(t, registrytables.ValidateTableName(bad), bad)
	}
}

func prefixed(prefix string, lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, prefix+l)
	}
	return out
}
