package test

import (
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/jsii-runtime-go"
	"github.com/aws/smithy-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/registrytables"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/test/deploy"
)

// liveTable is what the contract says a table looks like, as DynamoDB reports it.
type liveTable struct {
	hash    string
	attrs   map[string]ddbtypes.ScalarAttributeType
	ttl     string
	indexes map[string][2]string // name -> hash, range
}

// contractTables are the deployment contract's tables by default name.
var contractTables = func() map[string]liveTable {
	out := map[string]liveTable{}
	for _, t := range contract.Tables() {
		lt := liveTable{hash: t.Hash.Name, attrs: map[string]ddbtypes.ScalarAttributeType{}, ttl: t.TTL}
		for _, a := range t.Attributes() {
			lt.attrs[a.Name] = ddbtypes.ScalarAttributeType(a.Type)
		}
		for _, ix := range t.Indexes {
			if lt.indexes == nil {
				lt.indexes = map[string][2]string{}
			}
			lt.indexes[ix.Name] = [2]string{ix.Hash.Name, ix.Range.Name}
		}
		out[t.DefaultName()] = lt
	}
	return out
}()

// protectedPrefix names the second copy, deployed with the default deletion protection.
const protectedPrefix = "protected-"

func TestRegistryTablesLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := deploy.Apply(t, "registrytables", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		// The suite must destroy what it deploys, so this copy opts out of deletion
		// protection; the protected copy below proves the default.
		tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key, RemovalPolicy: removal.Destroy})
		registrytables.New(stack, "Protected", &registrytables.Props{EncryptionKey: key, NamePrefix: protectedPrefix})
		task := iamrole.NewIamRole(stack, jsii.String("Task"), &iamrole.IamRoleConfig{
			Name: jsii.String("tables-task"), AssumeRolePolicy: jsii.String(assumeByECSTasks),
		})
		tables.GrantReadWrite(task)
		reader := iamrole.NewIamRole(stack, jsii.String("Reader"), &iamrole.IamRoleConfig{
			Name: jsii.String("packages-reader"), AssumeRolePolicy: jsii.String(assumeByECSTasks),
		})
		tables.Packages().GrantRead(reader)
		deploy.Output(stack, "key_arn", key.KeyArn())
		for name, tbl := range map[string]*registrytables.Table{"users": tables.Users(), "tokens": tables.Tokens(),
			"packages": tables.Packages(), "uploads": tables.Uploads(), "downloads": tables.Downloads()} {
			deploy.Output(stack, "arn_"+name, tbl.Arn())
		}
		for envVar, name := range tables.Environment() {
			deploy.Output(stack, envVar, name)
		}
	})
	keyArn := d.Output(t, "key_arn")
	db := dynamodb.NewFromConfig(d.AWS)

	// The protected copy cannot be deleted as deployed; lift its protection (as an
	// operator would) before the deployment's own cleanup destroys the stack.
	t.Cleanup(func() {
		for name := range contractTables {
			_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
				TableName: aws.String(protectedPrefix + name), DeletionProtectionEnabled: aws.Bool(false),
			})
			assert.NoError(t, err, "lifting deletion protection of %s%s", protectedPrefix, name)
		}
	})

	arns := map[string]string{}
	for _, tbl := range contract.Tables() {
		assert.Equal(t, tbl.DefaultName(), d.Output(t, tbl.EnvVar), "default name behind %s", tbl.EnvVar)
	}

	for _, copyOf := range []struct {
		prefix    string
		protected bool
	}{{"", false}, {protectedPrefix, true}} {
		for base, want := range contractTables {
			name := copyOf.prefix + base
			t.Run("Table/"+name, func(t *testing.T) {
				out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
				require.NoError(t, err)
				tbl := out.Table
				if copyOf.prefix == "" {
					arns[base] = aws.ToString(tbl.TableArn)
				}
				assert.Equal(t, []ddbtypes.KeySchemaElement{{AttributeName: aws.String(want.hash), KeyType: ddbtypes.KeyTypeHash}}, tbl.KeySchema)
				attrs := map[string]ddbtypes.ScalarAttributeType{}
				for _, a := range tbl.AttributeDefinitions {
					attrs[aws.ToString(a.AttributeName)] = a.AttributeType
				}
				assert.Equal(t, want.attrs, attrs)
				indexes := map[string][2]string{}
				for _, g := range tbl.GlobalSecondaryIndexes {
					require.Len(t, g.KeySchema, 2)
					assert.Equal(t, ddbtypes.KeyTypeHash, g.KeySchema[0].KeyType)
					assert.Equal(t, ddbtypes.KeyTypeRange, g.KeySchema[1].KeyType)
					assert.Equal(t, ddbtypes.ProjectionTypeAll, g.Projection.ProjectionType)
					indexes[aws.ToString(g.IndexName)] = [2]string{aws.ToString(g.KeySchema[0].AttributeName), aws.ToString(g.KeySchema[1].AttributeName)}
				}
				if want.indexes == nil {
					assert.Empty(t, indexes)
				} else {
					assert.Equal(t, want.indexes, indexes)
				}
				assert.Empty(t, tbl.LocalSecondaryIndexes)
				require.NotNil(t, tbl.BillingModeSummary)
				assert.Equal(t, ddbtypes.BillingModePayPerRequest, tbl.BillingModeSummary.BillingMode)
				require.NotNil(t, tbl.SSEDescription, "SSE with a KMS key")
				assert.Equal(t, ddbtypes.SSETypeKms, tbl.SSEDescription.SSEType)
				assert.Equal(t, keyArn, aws.ToString(tbl.SSEDescription.KMSMasterKeyArn), "the project key")
				assert.Equal(t, copyOf.protected, aws.ToBool(tbl.DeletionProtectionEnabled), "deletion protection")

				backups, err := db.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)})
				require.NoError(t, err)
				assert.Equal(t, ddbtypes.PointInTimeRecoveryStatusEnabled,
					backups.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus, "PITR")

				ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
				require.NoError(t, err)
				if want.ttl != "" {
					assert.Equal(t, ddbtypes.TimeToLiveStatusEnabled, ttl.TimeToLiveDescription.TimeToLiveStatus)
					assert.Equal(t, want.ttl, aws.ToString(ttl.TimeToLiveDescription.AttributeName))
				} else {
					assert.Equal(t, ddbtypes.TimeToLiveStatusDisabled, ttl.TimeToLiveDescription.TimeToLiveStatus)
				}
			})
		}
	}
	require.Len(t, arns, 5)
	for base, arn := range arns {
		assert.Equal(t, arn, d.Output(t, "arn_"+base), "Arn() of %s", base)
	}

	t.Run("DefaultDeletionProtectionBlocksDeleteTable", func(t *testing.T) {
		_, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(protectedPrefix + "users")})
		var apiErr smithy.APIError
		require.True(t, errors.As(err, &apiErr), "DeleteTable on a protected table must fail, got %v", err)
		assert.Equal(t, "ValidationException", apiErr.ErrorCode())
		_, err = db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(protectedPrefix + "users")})
		assert.NoError(t, err, "still there")
	})

	t.Run("ItemsFollowTheContract", func(t *testing.T) {
		put := func(table string, item map[string]ddbtypes.AttributeValue) {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
			require.NoError(t, err)
		}
		s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
		n := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: v} }
		put("packages", map[string]ddbtypes.AttributeValue{"pkg_key": s("acme-lib/1.0.0"), "name": s("acme-lib"), "version": s("1.0.0")})
		put("packages", map[string]ddbtypes.AttributeValue{"pkg_key": s("acme-lib/1.1.0"), "name": s("acme-lib"), "version": s("1.1.0")})
		put("packages", map[string]ddbtypes.AttributeValue{"pkg_key": s("other/1.0.0"), "name": s("other"), "version": s("1.0.0")})
		versions, err := db.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String("packages"), IndexName: aws.String(contract.IndexPackagesByName),
			KeyConditionExpression:    aws.String("#n = :n"),
			ExpressionAttributeNames:  map[string]string{"#n": "name"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":n": s("acme-lib")},
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"1.0.0", "1.1.0"}, stringAttrs(versions.Items, "version"), "by_name lists a package's versions in order")

		put("downloads", map[string]ddbtypes.AttributeValue{"id": s("d1"), "user": s("alice"), "ts": n("1700000000000")})
		put("downloads", map[string]ddbtypes.AttributeValue{"id": s("d2"), "ts": n("1700000000001")}) // anonymous: no user
		mine, err := db.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String("downloads"), IndexName: aws.String(contract.IndexDownloadsByUser),
			KeyConditionExpression:    aws.String("#u = :u AND #ts >= :since"),
			ExpressionAttributeNames:  map[string]string{"#u": "user", "#ts": "ts"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":u": s("alice"), ":since": n("0")},
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"d1"}, stringAttrs(mine.Items, "id"))

		put("tokens", map[string]ddbtypes.AttributeValue{"token_id": s("t1"), "exp_ts": n("1700000000")})
		put("users", map[string]ddbtypes.AttributeValue{"name": s("alice")})
		put("uploads", map[string]ddbtypes.AttributeValue{"id": s("u1")})
	})

	t.Run("GrantsAreItemLevelAndExact", func(t *testing.T) {
		roles := iam.NewFromConfig(d.AWS)
		all := func(role string) map[string]policyStatement {
			names, err := roles.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
			require.NoError(t, err)
			st := map[string]policyStatement{}
			for _, n := range names.PolicyNames {
				rp, err := roles.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(n)})
				require.NoError(t, err)
				for sid, s := range parsePolicy(t, aws.ToString(rp.PolicyDocument)) {
					require.NotContains(t, st, sid)
					st[sid] = s
				}
			}
			return st
		}
		readActions := stringList{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}
		writeActions := stringList{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
		via := map[string]map[string]stringList{"StringEquals": {"kms:ViaService": {"dynamodb.us-east-1.amazonaws.com"}}}

		task := all("tables-task")
		require.Len(t, task, 3)
		read := task["ReadRegistryTables"]
		assert.Equal(t, "Allow", read.Effect)
		assert.ElementsMatch(t, readActions, read.Action)
		assert.ElementsMatch(t, stringList{arns["users"], arns["tokens"], arns["packages"], arns["packages"] + "/index/by_name",
			arns["uploads"], arns["downloads"], arns["downloads"] + "/index/by_user"}, read.Resource)
		assert.Empty(t, read.Condition)
		write := task["WriteRegistryTables"]
		assert.Equal(t, "Allow", write.Effect)
		assert.ElementsMatch(t, writeActions, write.Action)
		assert.ElementsMatch(t, stringList{arns["users"], arns["tokens"], arns["packages"], arns["uploads"], arns["downloads"]}, write.Resource)
		assert.Empty(t, write.Condition)
		kms := task["UseKeyDecrypt"]
		assert.Equal(t, "Allow", kms.Effect)
		assert.ElementsMatch(t, stringList{"kms:Decrypt"}, kms.Action, "the table key is decrypted, nothing is encrypted with the key directly")
		assert.Equal(t, stringList{keyArn}, kms.Resource)
		assert.Equal(t, via, kms.Condition)

		reader := all("packages-reader")
		require.Len(t, reader, 2)
		assert.ElementsMatch(t, readActions, reader["ReadPackagesTable"].Action)
		assert.ElementsMatch(t, stringList{arns["packages"], arns["packages"] + "/index/by_name"}, reader["ReadPackagesTable"].Resource)
		assert.Equal(t, stringList{"kms:Decrypt"}, reader["UseKeyDecrypt"].Action)
		assert.Equal(t, stringList{keyArn}, reader["UseKeyDecrypt"].Resource)
		assert.Equal(t, via, reader["UseKeyDecrypt"].Condition)
	})

	assert.True(t, d.PlanIsEmpty(t), "a second plan finds no drift")

	d.AfterDestroy(func(t *testing.T) {
		left, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
		require.NoError(t, err)
		assert.Empty(t, left.TableNames, "every table is gone")
	})
}

func stringAttrs(items []map[string]ddbtypes.AttributeValue, name string) []string {
	var out []string
	for _, it := range items {
		if v, ok := it[name].(*ddbtypes.AttributeValueMemberS); ok {
			out = append(out, v.Value)
		}
	}
	sort.Strings(out)
	return out
}
