package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/rotation"
	"github.com/acme/module-registry/runtime/storage"
)

// fakeSM keeps versions and labels the way Secrets Manager does during a rotation:
// RotateSecret has labelled the token's version AWSPENDING without a value.
type fakeSM struct {
	values map[string]string
	stages map[string][]string
}

func newRotatingSecret(value string) *fakeSM {
	return &fakeSM{
		values: map[string]string{"v1": value},
		stages: map[string][]string{"v1": {rotation.Current}, "token": {rotation.Pending}},
	}
}

func (f *fakeSM) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return &secretsmanager.DescribeSecretOutput{RotationEnabled: aws.Bool(true), VersionIdsToStages: f.stages}, nil
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := aws.ToString(in.VersionId)
	if id == "" {
		for v, s := range f.stages {
			if slices.Contains(s, aws.ToString(in.VersionStage)) {
				id = v
			}
		}
	}
	v, ok := f.values[id]
	if !ok || !slices.Contains(f.stages[id], aws.ToString(in.VersionStage)) {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no value")}
	}
	return &secretsmanager.GetSecretValueOutput{VersionId: aws.String(id), SecretString: aws.String(v)}, nil
}

func (f *fakeSM) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	id := aws.ToString(in.ClientRequestToken)
	f.values[id] = aws.ToString(in.SecretString)
	f.stages[id] = in.VersionStages
	return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(id)}, nil
}

func (f *fakeSM) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	from, to := aws.ToString(in.RemoveFromVersionId), aws.ToString(in.MoveToVersionId)
	for id, s := range f.stages {
		f.stages[id] = slices.DeleteFunc(s, func(x string) bool { return x == rotation.Previous })
	}
	f.stages[from] = []string{rotation.Previous}
	f.stages[to] = []string{rotation.Current}
	return &secretsmanager.UpdateSecretVersionStageOutput{}, nil
}

func rotate(t *testing.T, r rotation.Rotator) {
	t.Helper()
	for _, step := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
		require.NoError(t, r.Handle(context.Background(), rotation.Event{Step: step, SecretID: "s", ClientRequestToken: "token"}), step)
	}
}

const jwtValue = `{"jwt_secret":"` + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
	`","jwt_algorithm":"HS384","jwt_expiration_hours":6,"jwt_max_uses":50}`

// The four steps make a new signing secret current and keep the old one as AWSPREVIOUS,
// so tokens signed before the rotation still verify.
func TestJWTRotationKeepsThePreviousValue(t *testing.T) {
	sm := newRotatingSecret(jwtValue)
	rotate(t, rotation.Rotator{Client: sm, Strategy: rotation.JWT{}})
	assert.Equal(t, []string{rotation.Previous}, sm.stages["v1"])
	assert.Equal(t, []string{rotation.Current}, sm.stages["token"])
	assert.Equal(t, jwtValue, sm.values["v1"], "the old value is untouched")
	var before, after map[string]any
	require.NoError(t, json.Unmarshal([]byte(jwtValue), &before))
	require.NoError(t, json.Unmarshal([]byte(sm.values["token"]), &after))
	assert.NotEqual(t, before["jwt_secret"], after["jwt_secret"])
	assert.Len(t, after["jwt_secret"], len(before["jwt_secret"].(string)))
	delete(before, "jwt_secret")
	delete(after, "jwt_secret")
	assert.Equal(t, before, after, "algorithm, expiry and use limit kept")
}

// A retried createSecret leaves the pending value alone, and a retried finishSecret
// after the rotation completed changes nothing.
func TestStepsAreIdempotent(t *testing.T) {
	sm := newRotatingSecret(jwtValue)
	r := rotation.Rotator{Client: sm, Strategy: rotation.JWT{}}
	ev := rotation.Event{Step: rotation.StepCreate, SecretID: "s", ClientRequestToken: "token"}
	require.NoError(t, r.Handle(context.Background(), ev))
	pending := sm.values["token"]
	require.NoError(t, r.Handle(context.Background(), ev))
	assert.Equal(t, pending, sm.values["token"])
	rotate(t, r)
	ev.Step = rotation.StepFinish
	require.NoError(t, r.Handle(context.Background(), ev))
	assert.Equal(t, []string{rotation.Previous}, sm.stages["v1"])
}

// Stray invocations are refused without writing anything.
func TestHandleRefusesStrayEvents(t *testing.T) {
	for name, tc := range map[string]struct {
		ev   rotation.Event
		want string
	}{
		"unknown token": {rotation.Event{Step: rotation.StepCreate, SecretID: "s", ClientRequestToken: "other"}, "has no stage for rotation"},
		"not pending":   {rotation.Event{Step: rotation.StepCreate, SecretID: "s", ClientRequestToken: "old"}, "is not AWSPENDING"},
		"unknown step":  {rotation.Event{Step: "dropSecret", SecretID: "s", ClientRequestToken: "token"}, `unknown step "dropSecret"`},
		"empty":         {rotation.Event{Step: rotation.StepCreate}, "needs SecretId and ClientRequestToken"},
	} {
		sm := newRotatingSecret(jwtValue)
		sm.stages["old"] = nil
		err := rotation.Rotator{Client: sm, Strategy: rotation.JWT{}}.Handle(context.Background(), tc.ev)
		assert.ErrorContains(t, err, tc.want, name)
		assert.Len(t, sm.values, 1, "%s: nothing written", name)
	}
}

func TestJWTTestStepRejectsABadPendingValue(t *testing.T) {
	for name, pending := range map[string]string{
		"same secret":    jwtValue,
		"short secret":   `{"jwt_secret":"short","jwt_algorithm":"HS384","jwt_expiration_hours":6,"jwt_max_uses":50}`,
		"changed fields": strings.Replace(jwtValue, "HS384", "HS256", 1),
	} {
		if name != "same secret" {
			pending = strings.Replace(pending, "0123456789abcdef", "fedcba9876543210", 1)
		}
		err := rotation.JWT{}.Test(context.Background(), jwtValue, pending)
		assert.Error(t, err, name)
		assert.NotContains(t, fmt.Sprint(err), "0123456789abcdef", "errors never carry the value")
	}
}

// users is an in-memory users table.
type users map[string]storage.User

func (u users) GetUser(_ context.Context, name string) (storage.User, error) {
	if x, ok := u[name]; ok {
		return x, nil
	}
	return storage.User{}, storage.ErrNotFound
}

func (u users) PutUser(_ context.Context, x storage.User) error { u[x.Name] = x; return nil }

var fastArgon = auth.Argon2Params{Time: 1, MemKiB: 64, Threads: 1}

func adminWith(t *testing.T, password string) users {
	t.Helper()
	hash, err := auth.HashPassword(password, fastArgon)
	require.NoError(t, err)
	return users{"admin": {Name: "admin", PasswordHash: hash, Permissions: []string{storage.PermAdmin}}}
}

// After the four steps the administrator's stored hash accepts the new password and not
// the old one: logging in follows the rotation without a redeploy.
func TestAdminPasswordRotationAppliesTheNewPassword(t *testing.T) {
	const old = "old-password-0123456789abcdefghijklmn"
	table := adminWith(t, old)
	sm := newRotatingSecret(`{"password":"` + old + `"}`)
	rotate(t, rotation.Rotator{Client: sm, Strategy: rotation.AdminPassword{Users: table, User: "admin", Argon2: fastArgon}})
	var v struct{ Password string }
	require.NoError(t, json.Unmarshal([]byte(sm.values["token"]), &v))
	assert.GreaterOrEqual(t, len(v.Password), rotation.MinAdminPasswordLength)
	ok, err := auth.VerifyPassword(table["admin"].PasswordHash, v.Password)
	require.NoError(t, err)
	assert.True(t, ok, "the new password logs in")
	ok, _ = auth.VerifyPassword(table["admin"].PasswordHash, old)
	assert.False(t, ok, "the old one no longer does")
	assert.Equal(t, []string{storage.PermAdmin}, table["admin"].Permissions, "nothing else of the user changes")
	assert.Equal(t, []string{rotation.Current}, sm.stages["token"])
}

// Without an administrator yet, the rotation only rotates the secret: the registry
// creates the administrator from AWSCURRENT when it first starts.
func TestAdminPasswordRotationBeforeTheFirstStart(t *testing.T) {
	table := users{}
	sm := newRotatingSecret(`{"password":"old-password-0123456789abcdefghijklmn"}`)
	rotate(t, rotation.Rotator{Client: sm, Strategy: rotation.AdminPassword{Users: table, User: "admin", Argon2: fastArgon}})
	assert.Empty(t, table)
	assert.Equal(t, []string{rotation.Current}, sm.stages["token"])
}

// testSecret fails while the administrator still accepts the old password, and
// finishSecret repairs a hash another writer put back meanwhile.
func TestAdminPasswordTestAndSettle(t *testing.T) {
	const old = "old-password-0123456789abcdefghijklmn"
	table := adminWith(t, old)
	s := rotation.AdminPassword{Users: table, User: "admin", Argon2: fastArgon}
	next, err := s.Next(`{"password":"` + old + `"}`)
	require.NoError(t, err)
	assert.ErrorContains(t, s.Test(context.Background(), `{"password":"`+old+`"}`, next), "does not accept the pending password")
	require.NoError(t, s.Settle(context.Background(), next))
	require.NoError(t, s.Test(context.Background(), `{"password":"`+old+`"}`, next))
}

func TestAdminPasswordRefusesMalformedValues(t *testing.T) {
	s := rotation.AdminPassword{Users: users{}, User: "admin"}
	for _, v := range []string{"plain", `{"password":""}`, `{"pw":"x"}`, `{"password":1}`} {
		_, err := s.Next(v)
		assert.Error(t, err, v)
		assert.Error(t, s.Apply(context.Background(), v), v)
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		s, err := rotation.Generate(40)
		require.NoError(t, err)
		require.Len(t, s, 40)
		assert.Empty(t, strings.Trim(s, rotation.Alphabet))
		assert.False(t, seen[s])
		seen[s] = true
	}
	_, err := rotation.Generate(0)
	assert.Error(t, err)
	var nf *smtypes.ResourceNotFoundException
	assert.False(t, errors.As(err, &nf))
}
