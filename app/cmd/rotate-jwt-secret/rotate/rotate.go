// Package rotate replaces the jwt_secret field of the JWT signing secret (see
// constructs/jwtsecret) without downtime: it writes a new version holding a freshly
// generated secret and the same other fields, and Secrets Manager moves the AWSCURRENT
// label to it and AWSPREVIOUS to the version it replaces. A runtime that verifies tokens
// against AWSCURRENT and AWSPREVIOUS keeps accepting tokens signed before the rotation
// until they expire, and signs new ones with the new secret.
//
// The secret value never leaves this package: it is generated (runtime/rotation), sent to
// PutSecretValue and dropped. Results and errors carry version ids only.
package rotate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/module-registry/runtime/rotation"
)

// Staging labels Secrets Manager moves on every new version.
const (
	Current  = rotation.Current
	Previous = rotation.Previous
)

// SecretField is the JSON field rotated; every other field is kept as it is.
const SecretField = rotation.JWTSecretField

// MinLength is the shortest secret written (see rotation.MinJWTSecretLength).
const MinLength = rotation.MinJWTSecretLength

// Alphabet is what generated secrets are made of: letters and digits, like the
// deploy-time value, so the secret is safe in env vars, headers and shells.
const Alphabet = rotation.Alphabet

// API is the part of the Secrets Manager client rotation uses.
type API interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// Options tunes a rotation.
type Options struct {
	// Length of the new secret in characters. Default: the current secret's length, at
	// least MinLength.
	Length int
}

// Result names the versions involved; it never holds secret material.
type Result struct {
	SecretARN string
	// PreviousVersionID was AWSCURRENT before and is AWSPREVIOUS now.
	PreviousVersionID string
	// CurrentVersionID is the new version, now AWSCURRENT.
	CurrentVersionID string
	// Length of the new secret in characters.
	Length int
}

// Rotate writes a new version of secretID whose jwt_secret is freshly generated and whose
// other fields are copied from the current version, then checks that the new version is
// AWSCURRENT and the replaced one AWSPREVIOUS.
func Rotate(ctx context.Context, client API, secretID string, opts Options) (Result, error) {
	cur, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(secretID), VersionStage: aws.String(Current),
	})
	if err != nil {
		return Result{}, fmt.Errorf("read current version of %s: %w", secretID, err)
	}
	value, length, err := rotation.NextJWTValue(aws.ToString(cur.SecretString), opts.Length)
	if err != nil {
		return Result{}, fmt.Errorf("current version %s of %s: %w", aws.ToString(cur.VersionId), secretID, err)
	}
	// With no VersionStages, Secrets Manager labels the new version AWSCURRENT and moves
	// AWSPREVIOUS to the version that held AWSCURRENT. The SDK fills ClientRequestToken
	// (the new version id), which also makes a retried call idempotent.
	put, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(secretID), SecretString: aws.String(value),
	})
	if err != nil {
		return Result{}, fmt.Errorf("write new version of %s: %w", secretID, err)
	}
	res := Result{
		SecretARN:         aws.ToString(put.ARN),
		PreviousVersionID: aws.ToString(cur.VersionId),
		CurrentVersionID:  aws.ToString(put.VersionId),
		Length:            length,
	}
	desc, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secretID)})
	if err != nil {
		return res, fmt.Errorf("check labels of %s: %w", secretID, err)
	}
	stages := desc.VersionIdsToStages
	if !slices.Contains(stages[res.CurrentVersionID], Current) {
		return res, fmt.Errorf("new version %s of %s is not %s (labels %v)", res.CurrentVersionID, secretID, Current, stages)
	}
	if !slices.Contains(stages[res.PreviousVersionID], Previous) {
		// Someone else wrote a version between our read and our write: tokens signed
		// with the secret we replaced may be rejected. Say so rather than hide it.
		return res, fmt.Errorf("replaced version %s of %s is not %s (labels %v): a concurrent write happened", res.PreviousVersionID, secretID, Previous, stages)
	}
	return res, nil
}

// Generate returns length characters drawn uniformly from Alphabet with crypto/rand; at
// least MinLength.
func Generate(length int) (string, error) {
	if length < MinLength {
		return "", errors.New("secret too short")
	}
	return rotation.Generate(length)
}
