// Package awsstoretest creates, in the local AWS emulator, the resources the
// AWS storage backend runs on - a KMS key, a versioned bucket with SSE-KMS
// default encryption and the five tables of the deployment contract - so
// tests in several packages can share one emulator per package:
//
//	var env *awsstoretest.Env
//
//	func TestMain(m *testing.M) { os.Exit(awsstoretest.Main(m, &env)) }
//
//	func TestX(t *testing.T) { st, cfg := env.NewStore(t, nil) ... }
package awsstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/test/emulator"
)

// Env is one running emulator with a project KMS key.
type Env struct {
	Emu   *emulator.Emulator
	AWS   aws.Config
	KeyID string // KMS key ARN
	S3    *s3.Client
	DDB   *dynamodb.Client
}

// Main launches the emulator, stores it in *env, runs the tests and stops
// it. Use it from TestMain.
func Main(m *testing.M, env **Env) int {
	ctx := context.Background()
	emu, err := emulator.Launch(ctx, emulator.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		return 1
	}
	defer emu.Stop()
	e, err := NewEnv(ctx, emu)
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulator setup:", err)
		return 1
	}
	*env = e
	return m.Run()
}

// NewEnv creates the KMS key in emu.
func NewEnv(ctx context.Context, emu *emulator.Emulator) (*Env, error) {
	cfg, err := emu.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("registry test key")})
	if err != nil {
		return nil, fmt.Errorf("create KMS key: %w", err)
	}
	return &Env{
		Emu: emu, AWS: cfg, KeyID: aws.ToString(key.KeyMetadata.Arn),
		S3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		DDB: dynamodb.NewFromConfig(cfg),
	}, nil
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Resources creates a fresh bucket and table set with unique names and
// returns the store configuration for them.
func (e *Env) Resources(ctx context.Context) (awsstore.Config, error) {
	sfx := suffix()
	cfg := awsstore.Config{
		Bucket:   "pkg-artifacts-" + sfx,
		KMSKeyID: e.KeyID,
		Tables: awsstore.Tables{
			Users: "users-" + sfx, Tokens: "tokens-" + sfx, Packages: "packages-" + sfx,
			Uploads: "uploads-" + sfx, Downloads: "downloads-" + sfx,
		},
	}
	return cfg, CreateResources(ctx, e.S3, e.DDB, cfg)
}

// NewStore creates fresh resources and a Store on them. httpClient, when
// not nil, replaces the store's HTTP client (fault injection).
func (e *Env) NewStore(t testing.TB, httpClient aws.HTTPClient) (*awsstore.Store, awsstore.Config) {
	t.Helper()
	cfg, err := e.Resources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	awsCfg := e.AWS.Copy()
	if httpClient != nil {
		awsCfg.HTTPClient = httpClient
	}
	st, err := awsstore.New(awsCfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, cfg
}

// CreateResources creates the bucket (versioned, SSE-KMS default encryption
// with cfg.KMSKeyID, public access blocked) and the five tables exactly as
// the deployment contract declares them.
func CreateResources(ctx context.Context, s3c *s3.Client, ddb *dynamodb.Client, cfg awsstore.Config) error {
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &cfg.Bucket}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &cfg.Bucket,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		return fmt.Errorf("bucket versioning: %w", err)
	}
	if _, err := s3c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &cfg.Bucket,
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: &cfg.KMSKeyID},
			BucketKeyEnabled:                   aws.Bool(true),
		}}}}); err != nil {
		return fmt.Errorf("bucket encryption: %w", err)
	}
	if _, err := s3c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &cfg.Bucket,
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		return fmt.Errorf("public access block: %w", err)
	}

	sse := &ddbtypes.SSESpecification{Enabled: aws.Bool(true), SSEType: ddbtypes.SSETypeKms, KMSMasterKeyId: &cfg.KMSKeyID}
	hash := func(name string) []ddbtypes.KeySchemaElement {
		return []ddbtypes.KeySchemaElement{{AttributeName: aws.String(name), KeyType: ddbtypes.KeyTypeHash}}
	}
	attr := func(name string, t ddbtypes.ScalarAttributeType) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(name), AttributeType: t}
	}
	all := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}
	tables := []*dynamodb.CreateTableInput{
		{TableName: &cfg.Tables.Users, KeySchema: hash("name"), AttributeDefinitions: []ddbtypes.AttributeDefinition{attr("name", ddbtypes.ScalarAttributeTypeS)}},
		{TableName: &cfg.Tables.Tokens, KeySchema: hash("token_id"), AttributeDefinitions: []ddbtypes.AttributeDefinition{attr("token_id", ddbtypes.ScalarAttributeTypeS)}},
		{TableName: &cfg.Tables.Packages, KeySchema: hash("pkg_key"),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{attr("pkg_key", ddbtypes.ScalarAttributeTypeS), attr("name", ddbtypes.ScalarAttributeTypeS), attr("version", ddbtypes.ScalarAttributeTypeS)},
			GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String("by_name"), Projection: all, KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String("name"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("version"), KeyType: ddbtypes.KeyTypeRange}}}}},
		{TableName: &cfg.Tables.Uploads, KeySchema: hash("id"), AttributeDefinitions: []ddbtypes.AttributeDefinition{attr("id", ddbtypes.ScalarAttributeTypeS)}},
		{TableName: &cfg.Tables.Downloads, KeySchema: hash("id"),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{attr("id", ddbtypes.ScalarAttributeTypeS), attr("user", ddbtypes.ScalarAttributeTypeS), attr("ts", ddbtypes.ScalarAttributeTypeN)},
			GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String("by_user"), Projection: all, KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String("user"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("ts"), KeyType: ddbtypes.KeyTypeRange}}}}},
	}
	for _, in := range tables {
		in.BillingMode = ddbtypes.BillingModePayPerRequest
		in.SSESpecification = sse
		if _, err := ddb.CreateTable(ctx, in); err != nil {
			return fmt.Errorf("create table %s: %w", *in.TableName, err)
		}
	}
	for _, name := range []string{cfg.Tables.Tokens, cfg.Tables.Uploads} {
		if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("exp_ts"), Enabled: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("ttl on %s: %w", name, err)
		}
	}
	return nil
}

// FaultyTransport wraps an http.RoundTripper and fails requests for which
// Fail returns a non-nil response or error (the request is not sent).
type FaultyTransport struct {
	Base http.RoundTripper
	Fail func(r *http.Request) (*http.Response, error)
}

// RoundTrip implements http.RoundTripper.
func (f *FaultyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.Fail != nil {
		if resp, err := f.Fail(r); resp != nil || err != nil {
			return resp, err
		}
	}
	base := f.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
