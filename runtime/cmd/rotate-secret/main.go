// Command rotate-secret is the Secrets Manager rotation function of the registry's
// secrets, built as the `bootstrap` of a provided.al2023 Lambda function (see
// runtime/lambdabuild and constructs/secretrotation). Secrets Manager invokes it four
// times per rotation (createSecret, setSecret, testSecret, finishSecret); the steps are
// runtime/rotation's, and the environment picks the strategy:
//
//	ROTATION_STRATEGY=jwt              the JWT signing secret: a new jwt_secret, the old
//	                                   value kept under AWSPREVIOUS
//	ROTATION_STRATEGY=admin-password   the bootstrap administrator's password: setSecret
//	                                   stores the new password's argon2id hash on the
//	                                   administrator (REGISTRY_ADMIN_USER, default admin)
//	                                   in the users table
//
// The administrator strategy reaches the users table through the runtime's own AWS
// storage backend (runtime/storage/awsstore), which is configured like a registry task:
// REGISTRY_BUCKET, REGISTRY_KMS_KEY_ID and the REGISTRY_TABLE_* names. Its role is
// granted the users table only.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/rotation"
	"github.com/acme/module-registry/runtime/storage/awsstore"
)

func main() {
	ctx := context.Background()
	rotator, err := newRotator(ctx, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rotate-secret:", err)
		os.Exit(1)
	}
	lambda.StartWithOptions(rotator.Handle, lambda.WithContext(ctx))
}

// newRotator builds the rotator the environment asks for, with clients from the
// function's credentials and region.
func newRotator(ctx context.Context, getenv func(string) string) (rotation.Rotator, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return rotation.Rotator{}, fmt.Errorf("AWS configuration: %w", err)
	}
	r := rotation.Rotator{Client: secretsmanager.NewFromConfig(cfg)}
	switch s := getenv(contract.EnvRotationStrategy); s {
	case contract.RotationJWT:
		r.Strategy = rotation.JWT{}
	case contract.RotationAdminPassword:
		tables := contract.TableNames{}
		for _, t := range contract.Tables() {
			tables = tables.With(t.Kind, getenv(t.EnvVar))
		}
		store, err := awsstore.New(cfg, awsstore.Config{Bucket: getenv(contract.EnvBucket), KMSKeyID: getenv(contract.EnvKMSKeyID), Tables: tables})
		if err != nil {
			return rotation.Rotator{}, err
		}
		user := getenv(contract.EnvAdminUser)
		if user == "" {
			user = contract.DefaultAdminUser
		}
		r.Strategy = rotation.AdminPassword{Users: store, User: user}
	default:
		return rotation.Rotator{}, fmt.Errorf("%s=%q is not %s or %s", contract.EnvRotationStrategy, s, contract.RotationJWT, contract.RotationAdminPassword)
	}
	return r, nil
}
