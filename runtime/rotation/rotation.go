// Package rotation is the rotation logic of the registry's secrets, shared by the
// operator command app/cmd/rotate-jwt-secret and the Secrets Manager rotation function
// runtime/cmd/rotate-secret: the generator of new values, the rewriting of the JWT secret's
// value, and the four steps of a Secrets Manager rotation (createSecret, setSecret,
// testSecret, finishSecret) around a Strategy that says what a new value is, where it is
// applied and how it is tested.
//
// Secret values never leave this package and its strategies: errors and results carry
// version ids only.
package rotation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Staging labels of Secrets Manager.
const (
	Current  = "AWSCURRENT"
	Previous = "AWSPREVIOUS"
	Pending  = "AWSPENDING"
)

// Alphabet is what generated values are made of: letters and digits, so they are safe
// in environment variables, headers and shells.
const Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Generate returns length characters drawn uniformly from Alphabet with crypto/rand.
func Generate(length int) (string, error) {
	if length < 1 {
		return "", errors.New("rotation: length must be positive")
	}
	n := big.NewInt(int64(len(Alphabet)))
	out := make([]byte, length)
	for i := range out {
		k, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", fmt.Errorf("rotation: read random: %w", err)
		}
		out[i] = Alphabet[k.Int64()]
	}
	return string(out), nil
}

// API is the part of the Secrets Manager client a rotation uses.
type API interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// Strategy is what differs between the secrets: how the next value is made from the
// current one, where a pending value is applied and how it is tested.
type Strategy interface {
	// Next returns the new value, given the current one.
	Next(current string) (string, error)
	// Apply makes the pending value the one its consumers accept (setSecret).
	Apply(ctx context.Context, pending string) error
	// Test checks that the pending value works where it is used (testSecret).
	Test(ctx context.Context, current, pending string) error
	// Settle runs after AWSCURRENT moved to the new value (finishSecret), to repair
	// anything that applied an older value in between.
	Settle(ctx context.Context, current string) error
}

// The four steps Secrets Manager invokes a rotation function with.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// Event is the payload Secrets Manager invokes a rotation function with.
type Event struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
}

// Rotator runs the four steps against one client with one strategy.
type Rotator struct {
	Client   API
	Strategy Strategy
}

// Handle runs the step e names. Every step first checks that rotation is enabled and
// that the token is a version labelled AWSPENDING (or already AWSCURRENT: a retried
// invocation after the rotation completed), as Secrets Manager's own rotation templates
// do, so a stray invocation changes nothing.
func (r Rotator) Handle(ctx context.Context, e Event) error {
	if e.SecretID == "" || e.ClientRequestToken == "" {
		return errors.New("rotation: event needs SecretId and ClientRequestToken")
	}
	desc, err := r.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.SecretID)})
	if err != nil {
		return fmt.Errorf("rotation: describe %s: %w", e.SecretID, err)
	}
	if !aws.ToBool(desc.RotationEnabled) {
		return fmt.Errorf("rotation: rotation is not enabled on %s", e.SecretID)
	}
	stages, ok := desc.VersionIdsToStages[e.ClientRequestToken]
	if !ok {
		return fmt.Errorf("rotation: version %s of %s has no stage for rotation", e.ClientRequestToken, e.SecretID)
	}
	if slices.Contains(stages, Current) {
		return nil // this version is current already: the rotation is done
	}
	if !slices.Contains(stages, Pending) {
		return fmt.Errorf("rotation: version %s of %s is not %s", e.ClientRequestToken, e.SecretID, Pending)
	}
	switch e.Step {
	case StepCreate:
		return r.create(ctx, e)
	case StepSet:
		pending, err := r.value(ctx, e.SecretID, e.ClientRequestToken, Pending)
		if err != nil {
			return err
		}
		return r.Strategy.Apply(ctx, pending)
	case StepTest:
		current, err := r.value(ctx, e.SecretID, "", Current)
		if err != nil {
			return err
		}
		pending, err := r.value(ctx, e.SecretID, e.ClientRequestToken, Pending)
		if err != nil {
			return err
		}
		return r.Strategy.Test(ctx, current, pending)
	case StepFinish:
		return r.finish(ctx, e, desc.VersionIdsToStages)
	}
	return fmt.Errorf("rotation: unknown step %q", e.Step)
}

// create puts the next value as AWSPENDING under the token, once: a retried createSecret
// finds the pending value and leaves it.
func (r Rotator) create(ctx context.Context, e Event) error {
	current, err := r.value(ctx, e.SecretID, "", Current)
	if err != nil {
		return err
	}
	if _, err := r.value(ctx, e.SecretID, e.ClientRequestToken, Pending); err == nil {
		return nil
	} else if !isNotFound(err) {
		return err
	}
	next, err := r.Strategy.Next(current)
	if err != nil {
		return err
	}
	if _, err := r.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(e.SecretID), ClientRequestToken: aws.String(e.ClientRequestToken),
		SecretString: aws.String(next), VersionStages: []string{Pending},
	}); err != nil {
		return fmt.Errorf("rotation: put pending version %s of %s: %w", e.ClientRequestToken, e.SecretID, err)
	}
	return nil
}

// finish moves AWSCURRENT to the token; Secrets Manager moves AWSPREVIOUS to the version
// it was removed from, which keeps the old value readable.
func (r Rotator) finish(ctx context.Context, e Event, stages map[string][]string) error {
	var current string
	for id, s := range stages {
		if slices.Contains(s, Current) {
			current = id
		}
	}
	if _, err := r.Client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(e.SecretID), VersionStage: aws.String(Current),
		MoveToVersionId: aws.String(e.ClientRequestToken), RemoveFromVersionId: optional(current),
	}); err != nil {
		return fmt.Errorf("rotation: move %s of %s to version %s: %w", Current, e.SecretID, e.ClientRequestToken, err)
	}
	value, err := r.value(ctx, e.SecretID, "", Current)
	if err != nil {
		return err
	}
	return r.Strategy.Settle(ctx, value)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// value reads the version with stage (and versionID when given).
func (r Rotator) value(ctx context.Context, secretID, versionID, stage string) (string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID), VersionStage: aws.String(stage)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := r.Client.GetSecretValue(ctx, in)
	if err != nil {
		return "", fmt.Errorf("rotation: read %s of %s: %w", stage, secretID, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("rotation: %s of %s holds no string value", stage, secretID)
	}
	return *out.SecretString, nil
}

func isNotFound(err error) bool {
	var nf *smtypes.ResourceNotFoundException
	return errors.As(err, &nf)
}
