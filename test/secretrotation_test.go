package test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/constructs/passwordsecret"
	"github.com/acme/module-registry/constructs/registrytables"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/secretrotation"
	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/rotation"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/test/deploy"
)

// Both secrets' rotations deployed as the registry stack deploys them: the configuration
// is checked live, then the four steps run in-process, as Secrets Manager would invoke
// the function (the emulator cannot run Lambda code), against the emulator's Secrets
// Manager and DynamoDB, with the token the deploy-time RotateSecret labelled AWSPENDING.
func TestSecretRotationLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := deploy.Apply(t, "secretrotation", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key, RemovalPolicy: removal.Destroy})
		jwt := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{EncryptionKey: key, RemovalPolicy: removal.Destroy})
		admin := passwordsecret.New(stack, "AdminPassword", &passwordsecret.Props{EncryptionKey: key, RemovalPolicy: removal.Destroy})
		service := contract.Service{Region: cfg.Region, Bucket: cfg.ArtifactsBucket, KMSKeyID: *key.KeyArn(), Tables: tables.Names()}
		jwtRotation := secretrotation.New(stack, "JwtRotation", &secretrotation.Props{
			Secret: jwt, EncryptionKey: key, FunctionZip: cfg.RotationZip, FunctionName: "acme-jwt-secret-rotation",
			Environment: map[string]string{contract.EnvRotationStrategy: contract.RotationJWT},
		})
		adminRotation := secretrotation.New(stack, "AdminRotation", &secretrotation.Props{
			Secret: admin, EncryptionKey: key, FunctionZip: cfg.RotationZip, FunctionName: "acme-registry-admin-rotation",
			Environment: service.AdminRotationEnvironment(contract.DefaultAdminUser),
		})
		tables.Users().GrantReadWrite(adminRotation.Role())
		deploy.Output(stack, "key_arn", key.KeyArn())
		deploy.Output(stack, "jwt_arn", jwt.SecretArn())
		deploy.Output(stack, "admin_arn", admin.SecretArn())
		deploy.Output(stack, "jwt_version", jwt.VersionID())
		deploy.Output(stack, "admin_version", admin.VersionID())
		deploy.Output(stack, "jwt_function_arn", jwtRotation.FunctionArn())
		deploy.Output(stack, "admin_function_arn", adminRotation.FunctionArn())
		deploy.Output(stack, "users_table", tables.Users().Name())
	})
	sm := secretsmanager.NewFromConfig(d.AWS)
	fns := lambda.NewFromConfig(d.AWS)
	keyArn := d.Output(t, "key_arn")
	zip, err := os.ReadFile(d.Config.RotationZip)
	require.NoError(t, err)
	sum := sha256.Sum256(zip)

	for _, c := range []struct{ secret, function, name, strategy string }{
		{d.Output(t, "jwt_arn"), d.Output(t, "jwt_function_arn"), "acme-jwt-secret-rotation", contract.RotationJWT},
		{d.Output(t, "admin_arn"), d.Output(t, "admin_function_arn"), "acme-registry-admin-rotation", contract.RotationAdminPassword},
	} {
		desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(c.secret)})
		require.NoError(t, err)
		assert.True(t, aws.ToBool(desc.RotationEnabled), c.name)
		assert.Equal(t, c.function, aws.ToString(desc.RotationLambdaARN))
		require.NotNil(t, desc.RotationRules)
		assert.EqualValues(t, 30, aws.ToInt64(desc.RotationRules.AutomaticallyAfterDays))

		fn, err := fns.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(c.name)})
		require.NoError(t, err)
		cfg := fn.Configuration
		assert.Equal(t, secretrotation.Runtime, string(cfg.Runtime))
		assert.Equal(t, secretrotation.Handler, aws.ToString(cfg.Handler))
		assert.Equal(t, "arm64", string(cfg.Architectures[0]))
		assert.Equal(t, keyArn, aws.ToString(cfg.KMSKeyArn), "environment encrypted with the project key")
		assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), aws.ToString(cfg.CodeSha256), "the zip built from this source")
		assert.Equal(t, c.strategy, cfg.Environment.Variables[contract.EnvRotationStrategy])

		policy, err := fns.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(c.name)})
		require.NoError(t, err)
		var doc struct{ Statement []map[string]any }
		require.NoError(t, json.Unmarshal([]byte(aws.ToString(policy.Policy)), &doc))
		require.Len(t, doc.Statement, 1)
		assert.Equal(t, map[string]any{"Service": "secretsmanager.amazonaws.com"}, doc.Statement[0]["Principal"])
		assert.Contains(t, jsonString(t, doc.Statement[0]["Condition"]), c.secret, "invoked for this secret only")

		roles := iam.NewFromConfig(d.AWS)
		names, err := roles.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(c.name)})
		require.NoError(t, err)
		statements := map[string]policyStatement{}
		for _, n := range names.PolicyNames {
			rp, err := roles.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(c.name), PolicyName: aws.String(n)})
			require.NoError(t, err)
			for sid, s := range parsePolicy(t, aws.ToString(rp.PolicyDocument)) {
				statements[sid] = s
			}
		}
		assert.ElementsMatch(t, stringList(secretrotation.Actions), statements["RotateThisSecret"].Action)
		assert.Equal(t, stringList{c.secret}, statements["RotateThisSecret"].Resource)
	}
	assert.True(t, d.PlanIsEmpty(t), "the deployed rotation converges (no drift)")

	t.Run("JWTRotationKeepsThePreviousSecret", func(t *testing.T) {
		secret := d.Output(t, "jwt_arn")
		deployed := readValue(t, sm, secret, rotation.Current)
		runSteps(t, sm, secret, rotation.JWT{})
		assert.Equal(t, deployed, readValue(t, sm, secret, rotation.Previous), "tokens signed with the deployed secret still verify")
		current := readValue(t, sm, secret, rotation.Current)
		assert.NotEqual(t, deployed.Secret, current.Secret)
		assert.GreaterOrEqual(t, len(current.Secret), 64)
		current.Secret = deployed.Secret
		assert.Equal(t, deployed, current, "algorithm, expiry and use limit kept")
		prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret), VersionStage: aws.String(rotation.Previous)})
		require.NoError(t, err)
		assert.Equal(t, d.Output(t, "jwt_version"), aws.ToString(prev.VersionId), "Terraform's version is AWSPREVIOUS")
	})

	t.Run("AdminLogsInWithTheNewPasswordOnly", func(t *testing.T) {
		secret := d.Output(t, "admin_arn")
		old := adminPassword(t, sm, secret, rotation.Current)
		// The administrator as the registry bootstraps it from the deployed password.
		store, err := awsstore.New(d.AWS, awsstore.Config{Bucket: d.Config.ArtifactsBucket, KMSKeyID: d.Output(t, "key_arn"),
			Tables: contract.DefaultTableNames().With(contract.Users, d.Output(t, "users_table"))})
		require.NoError(t, err)
		hash, err := auth.HashPassword(old, auth.DefaultArgon2)
		require.NoError(t, err)
		require.NoError(t, store.CreateUser(ctx, storage.User{Name: contract.DefaultAdminUser, PasswordHash: hash,
			Permissions: []string{storage.PermAdmin}, CreatedAt: time.Now().UTC()}))

		runSteps(t, sm, secret, rotation.AdminPassword{Users: store, User: contract.DefaultAdminUser})
		fresh := adminPassword(t, sm, secret, rotation.Current)
		assert.NotEqual(t, old, fresh)
		assert.Equal(t, old, adminPassword(t, sm, secret, rotation.Previous))
		u, err := store.GetUser(ctx, contract.DefaultAdminUser)
		require.NoError(t, err)
		ok, err := auth.VerifyPassword(u.PasswordHash, fresh)
		require.NoError(t, err)
		assert.True(t, ok, "the new password logs in, with no redeploy")
		ok, _ = auth.VerifyPassword(u.PasswordHash, old)
		assert.False(t, ok, "the old one no longer does")
		assert.True(t, u.Has(storage.PermAdmin))
	})
	assert.True(t, d.PlanIsEmpty(t), "a rotation is not drift")

	d.AfterDestroy(func(t *testing.T) {
		for _, name := range []string{"acme-jwt-secret-rotation", "acme-registry-admin-rotation"} {
			_, err := fns.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			assert.Error(t, err, "%s is gone", name)
		}
	})
}

// runSteps invokes the four steps in order, as Secrets Manager does, with the version
// the deploy-time RotateSecret labelled AWSPENDING.
func runSteps(t *testing.T, sm *secretsmanager.Client, secret string, strategy rotation.Strategy) {
	t.Helper()
	ctx := context.Background()
	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secret)})
	require.NoError(t, err)
	var token string
	for id, stages := range desc.VersionIdsToStages {
		if slices.Contains(stages, rotation.Pending) {
			token = id
		}
	}
	require.NotEmpty(t, token, "RotateSecret labelled a version AWSPENDING: %v", desc.VersionIdsToStages)
	r := rotation.Rotator{Client: sm, Strategy: strategy}
	for _, step := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		require.NoError(t, r.Handle(ctx, rotation.Event{Step: step, SecretID: secret, ClientRequestToken: token}), step)
	}
	after, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secret)})
	require.NoError(t, err)
	// AWSPENDING may stay on the new version too: Secrets Manager accepts either ending.
	assert.Contains(t, after.VersionIdsToStages[token], rotation.Current, "the new version is current")
}

func adminPassword(t *testing.T, sm *secretsmanager.Client, secret, stage string) string {
	t.Helper()
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret), VersionStage: aws.String(stage)})
	require.NoError(t, err)
	var v map[string]string
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v))
	require.Len(t, v, 1)
	return v[contract.AdminPasswordField]
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
