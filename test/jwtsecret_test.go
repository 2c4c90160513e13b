package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/gruntwork-io/terratest/modules/terraform"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/cmd/rotate-jwt-secret/rotate"
	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/test/deploy"
)

// jwtValue is the secret's JSON, decoded strictly: the four fields with their types.
type jwtValue struct {
	Secret          string `json:"jwt_secret"`
	Algorithm       string `json:"jwt_algorithm"`
	ExpirationHours int    `json:"jwt_expiration_hours"`
	MaxUses         int    `json:"jwt_max_uses"`
}

func TestJWTSecretLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const stackName = "jwtsecret"
	d := deploy.Apply(t, stackName, func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		secret := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{EncryptionKey: key})
		role := iamrole.NewIamRole(stack, jsii.String("Task"), &iamrole.IamRoleConfig{
			Name: jsii.String("jwt-reader"), AssumeRolePolicy: jsii.String(assumeByECSTasks),
		})
		secret.GrantRead(role)
		deploy.Output(stack, "secret_arn", secret.SecretArn())
		deploy.Output(stack, "secret_name", secret.SecretName())
		deploy.Output(stack, "version_id", secret.VersionID())
		deploy.Output(stack, "key_arn", key.KeyArn())
	})
	secretArn, name, keyArn := d.Output(t, "secret_arn"), d.Output(t, "secret_name"), d.Output(t, "key_arn")
	versionID := d.Output(t, "version_id")
	require.Equal(t, "acme-jwt-secret", name)
	sm := secretsmanager.NewFromConfig(d.AWS)

	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	require.NoError(t, err)
	assert.Equal(t, keyArn, aws.ToString(desc.KmsKeyId), "encrypted with the project key")
	assert.Equal(t, jwtsecret.DefaultDescription, aws.ToString(desc.Description))
	assert.Equal(t, []string{rotate.Current}, desc.VersionIdsToStages[versionID], "Terraform's version is current")

	// The value Terraform wrote: exactly the four fields, typed, a long random secret.
	deployed := readValue(t, sm, name, rotate.Current)
	assert.Equal(t, "HS256", deployed.Algorithm)
	assert.Equal(t, 10, deployed.ExpirationHours)
	assert.Equal(t, 1000, deployed.MaxUses)
	assert.GreaterOrEqual(t, len(deployed.Secret), 64)
	assert.Empty(t, strings.Trim(deployed.Secret, rotate.Alphabet), "letters and digits")

	t.Run("ValueNeverInTerraformArtifacts", func(t *testing.T) {
		assertSecretNotInTerraform(t, d, stackName, deployed.Secret)
	})

	t.Run("GrantReadIsThisSecretOnly", func(t *testing.T) {
		roles := iam.NewFromConfig(d.AWS)
		names, err := roles.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("jwt-reader")})
		require.NoError(t, err)
		statements := map[string]policyStatement{}
		for _, n := range names.PolicyNames {
			rp, err := roles.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("jwt-reader"), PolicyName: aws.String(n)})
			require.NoError(t, err)
			for sid, s := range parsePolicy(t, aws.ToString(rp.PolicyDocument)) {
				statements[sid] = s
			}
		}
		require.Len(t, statements, 2)
		read := statements["ReadJwtSecret"]
		assert.ElementsMatch(t, stringList{"secretsmanager:GetSecretValue"}, read.Action)
		assert.Equal(t, stringList{secretArn}, read.Resource)
		decrypt := statements["UseKeyDecrypt"]
		assert.Equal(t, stringList{"kms:Decrypt"}, decrypt.Action)
		assert.Equal(t, stringList{keyArn}, decrypt.Resource)
		assert.Equal(t, stringList{"secretsmanager.us-east-1.amazonaws.com"}, decrypt.Condition["StringEquals"]["kms:ViaService"])
	})

	t.Run("RotationKeepsThePreviousSecret", func(t *testing.T) {
		res, err := rotate.Rotate(ctx, sm, name, rotate.Options{})
		require.NoError(t, err)
		assert.Equal(t, versionID, res.PreviousVersionID)
		previous := readValue(t, sm, name, rotate.Previous)
		current := readValue(t, sm, name, rotate.Current)
		firstRotated := current.Secret
		assert.Equal(t, deployed, previous, "the deployed value is AWSPREVIOUS, unchanged")
		assert.NotEqual(t, deployed.Secret, current.Secret, "a new secret is AWSCURRENT")
		assert.GreaterOrEqual(t, len(current.Secret), 64)
		current.Secret, previous.Secret = "", ""
		assert.Equal(t, previous, current, "algorithm, expiry and max uses carried over")
		// A rotation is not drift: Terraform does not undo it.
		assert.True(t, d.PlanIsEmpty(t), "plan after rotation is empty")
		assert.Equal(t, res.CurrentVersionID, currentVersion(t, sm, name), "still current after the plan")

		// The command operators run, flags and all: it rotates again and prints ids only.
		cmd := exec.Command("go", "run", "github.com/acme/module-registry/app/cmd/rotate-jwt-secret",
			"-secret-name", name, "-region", d.Config.Region, "-endpoint", d.Emulator.Endpoint())
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "is AWSCURRENT")
		again := readValue(t, sm, name, rotate.Current)
		assert.Equal(t, current.ExpirationHours, again.ExpirationHours)
		assert.NotContains(t, string(out), again.Secret, "the command never prints the value")
		assert.Equal(t, readValue(t, sm, name, rotate.Previous).Secret, firstRotated, "the first rotation's secret is now AWSPREVIOUS")
	})

	d.AfterDestroy(func(t *testing.T) {
		gone, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
		require.NoError(t, err, "within the recovery window the secret is scheduled for deletion, not gone")
		require.NotNil(t, gone.DeletedDate, "scheduled for deletion")
		assert.WithinDuration(t, time.Now().Add(7*24*time.Hour), *gone.DeletedDate, time.Hour, "default 7-day recovery window")
		_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
		assert.Error(t, err, "a deleted secret's value cannot be read")
	})
}

func readValue(t *testing.T, sm *secretsmanager.Client, name, stage string) jwtValue {
	t.Helper()
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(name), VersionStage: aws.String(stage),
	})
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(aws.ToString(out.SecretString)))
	dec.DisallowUnknownFields()
	var v jwtValue
	require.NoError(t, dec.Decode(&v), "value of %s (%s) is not the four typed fields", name, stage)
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(out.SecretString)), &fields))
	require.Len(t, fields, 4, "exactly jwt_secret, jwt_algorithm, jwt_expiration_hours, jwt_max_uses")
	return v
}

func currentVersion(t *testing.T, sm *secretsmanager.Client, name string) string {
	t.Helper()
	out, err := sm.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	require.NoError(t, err)
	return aws.ToString(out.VersionId)
}

// assertSecretNotInTerraform fails if secret, a large piece of it, or its base64 form
// occurs in the state file, the synthesized output, the plan output, a saved plan or the
// state as Terraform shows it.
func assertSecretNotInTerraform(t *testing.T, d *deploy.Deployment, stackName, secret string) {
	t.Helper()
	needles := []string{secret, secret[:24], secret[len(secret)-24:], base64.StdEncoding.EncodeToString([]byte(secret))}
	check := func(where, content string) {
		t.Helper()
		for _, n := range needles {
			if strings.Contains(content, n) {
				t.Errorf("the JWT secret (or part of it) is in %s", where)
				return
			}
		}
	}

	// The state file of the local backend, and anything else Terraform keeps there.
	statePath := filepath.Join(d.Config.StateDir, stackName+".tfstate")
	state, err := os.ReadFile(statePath)
	require.NoError(t, err, "the local backend's state file")
	if !strings.Contains(string(state), "aws_secretsmanager_secret_version") {
		t.Fatalf("%s holds no secret version: scanning the wrong state", statePath)
	}
	scanTree(t, d.Config.StateDir, check)

	// The synthesized output: cdk.tf.json, manifest, CLI config, .terraform metadata.
	outdir := filepath.Dir(filepath.Dir(d.Options.TerraformDir))
	synthesized, err := os.ReadFile(filepath.Join(d.Options.TerraformDir, "cdk.tf.json"))
	require.NoError(t, err)
	if !strings.Contains(string(synthesized), "aws_secretsmanager_secret_version") {
		t.Fatalf("%s holds no secret version: scanning the wrong output", d.Options.TerraformDir)
	}
	scanTree(t, outdir, check)

	// Plan output, a saved plan as JSON, the state as Terraform reports it, the outputs.
	check("terraform plan output", terraform.Plan(t, d.Options))
	planFile := filepath.Join(t.TempDir(), "jwt.tfplan")
	check("terraform plan -out output", terraform.RunTerraformCommand(t, d.Options, "plan", "-input=false", "-lock=false", "-out="+planFile))
	check("the saved plan (terraform show -json)", terraform.RunTerraformCommand(t, d.Options, "show", "-json", planFile))
	check("terraform show -json", terraform.RunTerraformCommand(t, d.Options, "show", "-json"))
	check("terraform state pull", terraform.RunTerraformCommand(t, d.Options, "state", "pull"))
	check("terraform output -json", terraform.RunTerraformCommand(t, d.Options, "output", "-json"))
}

// scanTree runs check on every file under root except provider binaries.
func scanTree(t *testing.T, root string, check func(where, content string)) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == "providers" && filepath.Base(filepath.Dir(path)) == ".terraform" {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		check(path, string(b))
		return nil
	})
	require.NoError(t, err)
	require.NotZero(t, n, "nothing scanned under %s", root)
}
