package test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/test/deploy"
)

const assumeByECSTasks = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func TestEncryptionKeyLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := deploy.Apply(t, "encryptionkey", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", &encryptionkey.Props{
			ServiceUses: []encryptionkey.ServiceUse{{
				Sid:     "AllowSecretsManagerUse",
				Service: "secretsmanager.amazonaws.com",
				Actions: []string{"kms:Decrypt", "kms:GenerateDataKey"},
				Conditions: []iampolicy.Condition{
					iampolicy.StringEquals("aws:SourceAccount", cfg.AccountID),
					iampolicy.StringEquals("kms:ViaService", "secretsmanager."+cfg.Region+".amazonaws.com"),
				},
			}},
		})
		role := iamrole.NewIamRole(stack, jsii.String("Reader"), &iamrole.IamRoleConfig{
			Name: jsii.String("key-reader"), AssumeRolePolicy: jsii.String(assumeByECSTasks),
		})
		key.GrantDecrypt(role, "s3")
		deploy.Output(stack, "key_id", key.KeyID())
		deploy.Output(stack, "key_arn", key.KeyArn())
	})
	keyID, keyArn := d.Output(t, "key_id"), d.Output(t, "key_arn")
	client := kms.NewFromConfig(d.AWS)

	desc, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	require.NoError(t, err)
	assert.Equal(t, kmstypes.KeyManagerTypeCustomer, desc.KeyMetadata.KeyManager)
	assert.Equal(t, kmstypes.KeyStateEnabled, desc.KeyMetadata.KeyState)
	assert.Equal(t, encryptionkey.DefaultDescription, aws.ToString(desc.KeyMetadata.Description))

	rotation, err := client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
	require.NoError(t, err)
	assert.True(t, rotation.KeyRotationEnabled, "rotation on")

	assert.Equal(t, keyID, aliasTarget(t, client, "alias/acme-main-key"), "alias points at the key")

	policy, err := client.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String("default")})
	require.NoError(t, err)
	st := parsePolicy(t, aws.ToString(policy.Policy))
	require.Len(t, st, 2, "root administration and the one named service, nothing else")
	root := st[encryptionkey.RootAdministrationSid]
	assert.Equal(t, map[string]any{"AWS": "arn:aws:iam::" + deploy.AccountID + ":root"}, root.Principal)
	assert.Equal(t, stringList{"kms:*"}, root.Action)
	svc := st["AllowSecretsManagerUse"]
	assert.Equal(t, map[string]any{"Service": "secretsmanager.amazonaws.com"}, svc.Principal)
	assert.Equal(t, stringList{deploy.AccountID}, svc.Condition["StringEquals"]["aws:SourceAccount"])
	assert.Equal(t, stringList{"secretsmanager.us-east-1.amazonaws.com"}, svc.Condition["StringEquals"]["kms:ViaService"])

	// The grant is an inline role policy: this key only, Decrypt only, via S3 only.
	roles := iam.NewFromConfig(d.AWS)
	names, err := roles.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("key-reader")})
	require.NoError(t, err)
	require.Len(t, names.PolicyNames, 1)
	rp, err := roles.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("key-reader"), PolicyName: aws.String(names.PolicyNames[0])})
	require.NoError(t, err)
	grant := parsePolicy(t, aws.ToString(rp.PolicyDocument))["UseKeyDecrypt"]
	assert.Equal(t, stringList{"kms:Decrypt"}, grant.Action)
	assert.Equal(t, stringList{keyArn}, grant.Resource)
	assert.Equal(t, stringList{"s3.us-east-1.amazonaws.com"}, grant.Condition["StringEquals"]["kms:ViaService"])

	assert.True(t, d.PlanIsEmpty(t), "a second plan finds no drift")

	d.AfterDestroy(func(t *testing.T) {
		gone, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
		require.NoError(t, err)
		assert.Equal(t, kmstypes.KeyStatePendingDeletion, gone.KeyMetadata.KeyState)
		// The deletion window is the default 7 days.
		require.NotNil(t, gone.KeyMetadata.DeletionDate)
		assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), *gone.KeyMetadata.DeletionDate, time.Hour)
		assert.Empty(t, aliasTarget(t, client, "alias/acme-main-key"), "alias deleted")
	})
}

func aliasTarget(t *testing.T, client *kms.Client, alias string) string {
	t.Helper()
	p := kms.NewListAliasesPaginator(client, &kms.ListAliasesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, a := range page.Aliases {
			if aws.ToString(a.AliasName) == alias {
				return aws.ToString(a.TargetKeyId)
			}
		}
	}
	return ""
}
