package localtask_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/localtask"
	"github.com/acme/module-registry/test/emulator"
)

func TestParseReference(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-jwt-secret-AbCdEf"
	r, err := localtask.ParseReference(arn + ":jwt_secret::")
	require.NoError(t, err)
	assert.Equal(t, localtask.Reference{SecretArn: arn, JSONKey: "jwt_secret"}, r)
	r, err = localtask.ParseReference(arn)
	require.NoError(t, err)
	assert.Equal(t, localtask.Reference{SecretArn: arn}, r)

	_, err = localtask.ParseReference(arn + ":jwt_secret")
	assert.ErrorContains(t, err, "ECS wants none or exactly three")
	_, err = localtask.ParseReference("arn:aws:ssm:us-east-1:111122223333:parameter/x")
	assert.ErrorContains(t, err, "is not a Secrets Manager secret ARN")
}

func TestEnvironmentResolvesSecretsAsECSDoes(t *testing.T) {
	ctx := context.Background()
	emu := emulator.Start(t)
	cfg, err := emu.AWSConfig(ctx)
	require.NoError(t, err)
	sm := secretsmanager.NewFromConfig(cfg)
	jwt, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("jwt"), SecretString: aws.String(`{"jwt_secret":"s3cr3t","jwt_max_uses":1000}`),
	})
	require.NoError(t, err)
	plain, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("plain"), SecretString: aws.String("hunter2")})
	require.NoError(t, err)

	register := func(secrets ...ecstypes.Secret) string {
		out, err := ecs.NewFromConfig(cfg).RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String("svc"),
			ContainerDefinitions: []ecstypes.ContainerDefinition{{
				Name: aws.String("app"), Memory: aws.Int32(512), Image: aws.String("registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
				Environment: []ecstypes.KeyValuePair{{Name: aws.String("REGISTRY_BACKEND"), Value: aws.String("aws")}},
				Secrets:     secrets,
			}},
		})
		require.NoError(t, err)
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	td := register(
		ecstypes.Secret{Name: aws.String("JWT_SECRET"), ValueFrom: aws.String(aws.ToString(jwt.ARN) + ":jwt_secret::")},
		ecstypes.Secret{Name: aws.String("MAX"), ValueFrom: aws.String(aws.ToString(jwt.ARN) + ":jwt_max_uses::")},
		ecstypes.Secret{Name: aws.String("PLAIN"), ValueFrom: plain.ARN},
	)
	env, err := localtask.Environment(ctx, cfg, td, "")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"REGISTRY_BACKEND": "aws", "JWT_SECRET": "s3cr3t", "MAX": "1000", "PLAIN": "hunter2"}, env)

	_, err = localtask.Environment(ctx, cfg, td, "other")
	assert.ErrorContains(t, err, `has no container "other" (containers: app)`)

	td = register(ecstypes.Secret{Name: aws.String("X"), ValueFrom: aws.String(aws.ToString(jwt.ARN) + ":nope::")})
	_, err = localtask.Environment(ctx, cfg, td, "app")
	assert.ErrorContains(t, err, `secret X: the secret has no JSON key "nope"`)
}
