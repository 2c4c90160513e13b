package emulator

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestPatchLambdaKMSKeyArn(t *testing.T) {
	testPatch(t, PatchLambdaKMSKeyArn, Options{}, lambdaKMSKeyArn, "reported the function's KMSKeyArn")
}

// newFunction creates a provided.al2023 function holding a stand-in bootstrap, encrypted
// with keyArn ("" for none), and returns its ARN.
func newFunction(t *testing.T, e *Emulator, name, keyArn string) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, _ := w.Create("bootstrap")
	_, _ = f.Write([]byte("#!/bin/sh\n"))
	_ = w.Close()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Role: role.Role.Arn, Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Code: &lambdatypes.FunctionCode{ZipFile: buf.Bytes()},
		Environment: &lambdatypes.Environment{Variables: map[string]string{"ROTATION_STRATEGY": "jwt"}},
	}
	if keyArn != "" {
		in.KMSKeyArn = aws.String(keyArn)
	}
	fn, err := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.RetryMaxAttempts = patchTestAttempts }).CreateFunction(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(fn.FunctionArn)
}

// lambdaKMSKeyArn creates a function whose environment is encrypted with a customer
// managed key, moves it to another key, and reads the key back each time, as the
// Terraform provider does.
func lambdaKMSKeyArn(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := kms.NewFromConfig(cfg)
	newKey := func() string {
		k, err := keys.CreateKey(ctx, &kms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.Arn)
	}
	first, second := newKey(), newKey()
	newFunction(t, e, "rotate", first)
	c := lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.RetryMaxAttempts = patchTestAttempts })
	want := func(key string) error {
		got, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("rotate")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(got.KMSKeyArn) != key {
			return fmt.Errorf("KMSKeyArn = %q, AWS reports %q", aws.ToString(got.KMSKeyArn), key)
		}
		return nil
	}
	if err := want(first); err != nil {
		return err
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("rotate"), KMSKeyArn: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	if err := want(second); err != nil {
		return err
	}
	// An empty key returns the function to Lambda's own key, as on AWS.
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("rotate"), KMSKeyArn: aws.String("")}); err != nil {
		t.Fatal(err)
	}
	return want("")
}

func TestPatchSecretsManagerDefaultIsCurrent(t *testing.T) {
	testPatch(t, PatchSecretsManagerDefaultCurrent, Options{}, secretDefaultIsCurrent, "returned AWSCURRENT while a rotation was pending")
}

// secretDefaultIsCurrent configures a rotation whose function cannot run here, and reads
// the secret the way ECS and the runtime do (no version, no stage): AWS returns the
// AWSCURRENT value, which the unfinished rotation has not replaced.
func secretDefaultIsCurrent(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.RetryMaxAttempts = patchTestAttempts })
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("admin"), SecretString: aws.String(`{"password":"before"}`)})
	if err != nil {
		t.Fatal(err)
	}
	fn := newFunction(t, e, "rotate-admin", "")
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId: aws.String("admin"), RotationLambdaARN: aws.String(fn),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("admin")})
	if err != nil {
		return fmt.Errorf("GetSecretValue after RotateSecret: %w", err)
	}
	if aws.ToString(got.SecretString) != `{"password":"before"}` || aws.ToString(got.VersionId) != aws.ToString(created.VersionId) {
		return errors.New("GetSecretValue did not return the AWSCURRENT version")
	}
	// Reads by stage were right all along; they stay right.
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("admin"), VersionStage: aws.String("AWSCURRENT")})
	if err != nil || aws.ToString(cur.VersionId) != aws.ToString(created.VersionId) {
		t.Fatalf("GetSecretValue(AWSCURRENT) = %v, %v", cur, err)
	}
	return nil
}

func TestPatchIAMAWSManagedPolicies(t *testing.T) {
	testPatch(t, PatchIAMAWSManagedPolicies, Options{}, attachAWSManagedPolicy, "knew AWS's managed policies")
}

// attachAWSManagedPolicy attaches AWS's managed policies to a role and a group, as the
// CI roles, the Config recorder and the administrators group do.
func attachAWSManagedPolicy(t *testing.T, e *Emulator) error {
	t.Helper()
	ctx := context.Background()
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := iam.NewFromConfig(cfg, func(o *iam.Options) { o.RetryMaxAttempts = patchTestAttempts })
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("config"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"config.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("admins")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("config"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/service-role/AWS_ConfigRole")}); err != nil {
		return err
	}
	if _, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("admins"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		return err
	}
	got, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
	if err != nil {
		return err
	}
	if aws.ToString(got.Policy.PolicyName) != "ReadOnlyAccess" {
		t.Fatalf("GetPolicy(ReadOnlyAccess) = %q", aws.ToString(got.Policy.PolicyName))
	}
	return nil
}
