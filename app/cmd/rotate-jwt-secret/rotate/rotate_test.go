package rotate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/cmd/rotate-jwt-secret/rotate"
)

// fakeSM keeps versions and labels the way Secrets Manager does for PutSecretValue
// without VersionStages.
type fakeSM struct {
	arn      string
	values   map[string]string
	stages   map[string][]string
	n        int
	onPut    func()
	putError error
}

func newFake(value string) *fakeSM {
	return &fakeSM{arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-jwt-secret-AbCdEf",
		values: map[string]string{"v1": value}, stages: map[string][]string{"v1": {rotate.Current}}}
}

func (f *fakeSM) versionWith(stage string) string {
	for id, s := range f.stages {
		for _, x := range s {
			if x == stage {
				return id
			}
		}
	}
	return ""
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := f.versionWith(aws.ToString(in.VersionStage))
	if id == "" {
		return nil, fmt.Errorf("no version labelled %s", aws.ToString(in.VersionStage))
	}
	return &secretsmanager.GetSecretValueOutput{ARN: &f.arn, VersionId: aws.String(id), SecretString: aws.String(f.values[id])}, nil
}

func (f *fakeSM) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if f.putError != nil {
		return nil, f.putError
	}
	if f.onPut != nil {
		f.onPut()
	}
	f.n++
	id := fmt.Sprintf("new%d", f.n)
	cur := f.versionWith(rotate.Current)
	if prev := f.versionWith(rotate.Previous); prev != "" {
		f.stages[prev] = nil
	}
	f.stages[cur] = []string{rotate.Previous}
	f.stages[id] = []string{rotate.Current}
	f.values[id] = aws.ToString(in.SecretString)
	return &secretsmanager.PutSecretValueOutput{ARN: &f.arn, VersionId: aws.String(id)}, nil
}

func (f *fakeSM) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return &secretsmanager.DescribeSecretOutput{ARN: &f.arn, VersionIdsToStages: f.stages}, nil
}

const original = `{"jwt_secret":"` + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
	`","jwt_algorithm":"HS384","jwt_expiration_hours":6,"jwt_max_uses":50}`

func TestRotateMovesLabelsAndKeepsSettings(t *testing.T) {
	f := newFake(original)
	res, err := rotate.Rotate(context.Background(), f, "acme-jwt-secret", rotate.Options{})
	require.NoError(t, err)
	assert.Equal(t, "v1", res.PreviousVersionID)
	assert.Equal(t, "new1", res.CurrentVersionID)
	assert.Equal(t, []string{rotate.Previous}, f.stages["v1"])
	assert.Equal(t, []string{rotate.Current}, f.stages["new1"])
	assert.Equal(t, original, f.values["v1"], "the old version is untouched")

	var before, after map[string]any
	require.NoError(t, json.Unmarshal([]byte(original), &before))
	require.NoError(t, json.Unmarshal([]byte(f.values["new1"]), &after))
	newSecret := after["jwt_secret"].(string)
	assert.NotEqual(t, before["jwt_secret"], newSecret)
	assert.Len(t, newSecret, len(before["jwt_secret"].(string)), "keeps the current length")
	delete(before, "jwt_secret")
	delete(after, "jwt_secret")
	assert.Equal(t, before, after, "algorithm, expiry and max uses are kept, with their types")
	assert.NotContains(t, fmt.Sprintf("%+v", res), newSecret, "the result never carries the value")
}

func TestRotateTwiceRetiresTheOldest(t *testing.T) {
	f := newFake(original)
	_, err := rotate.Rotate(context.Background(), f, "acme-jwt-secret", rotate.Options{})
	require.NoError(t, err)
	res, err := rotate.Rotate(context.Background(), f, "acme-jwt-secret", rotate.Options{Length: 100})
	require.NoError(t, err)
	assert.Equal(t, "new1", res.PreviousVersionID)
	assert.Empty(t, f.stages["v1"])
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(f.values["new2"]), &v))
	assert.Len(t, v["jwt_secret"], 100)
}

func TestRotateRefusesBadInput(t *testing.T) {
	for name, value := range map[string]string{
		"not json":      "plain-text",
		"no jwt_secret": `{"jwt_algorithm":"HS256"}`,
		"not a string":  `{"jwt_secret":42}`,
	} {
		f := newFake(value)
		_, err := rotate.Rotate(context.Background(), f, "acme-jwt-secret", rotate.Options{})
		assert.Error(t, err, name)
		assert.Len(t, f.values, 1, "%s: nothing written", name)
	}
	f := newFake(original)
	_, err := rotate.Rotate(context.Background(), f, "acme-jwt-secret", rotate.Options{Length: 32})
	assert.ErrorContains(t, err, "at least 64")
	assert.Len(t, f.values, 1)
}

func TestRotateReportsAConcurrentWrite(t *testing.T) {
	f := newFake(original)
	f.onPut = func() { // another writer slips in between our read and our write
		f.onPut = nil
		_, _ = f.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretString: aws.String(original)})
	}
	_, err := rotate.Rotate(context.Background(), f, "acme-jwt-secret", rotate.Options{})
	assert.ErrorContains(t, err, "concurrent write")
}

func TestErrorsNeverCarryTheValue(t *testing.T) {
	f := newFake(original)
	f.putError = fmt.Errorf("AccessDeniedException")
	_, err := rotate.Rotate(context.Background(), f, "acme-jwt-secret", rotate.Options{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "0123456789abcdef")
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		s, err := rotate.Generate(64)
		require.NoError(t, err)
		require.Len(t, s, 64)
		assert.Empty(t, strings.Trim(s, rotate.Alphabet), "letters and digits only")
		assert.False(t, seen[s], "no repeats")
		seen[s] = true
	}
	_, err := rotate.Generate(63)
	assert.Error(t, err)
}
