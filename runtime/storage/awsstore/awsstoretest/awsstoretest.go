// Package awsstoretest creates, through an AWS endpoint (in tests: the
// local emulator), the resources the AWS storage backend runs on - a KMS
// key, a versioned bucket with SSE-KMS default encryption and the tables of
// the deployment contract, made from contract.Tables() - so tests in
// several packages can share one emulator per package. It starts nothing
// itself: the test starts the emulator (test/emulator) and hands it over.
//
//	func TestX(t *testing.T) {
//		env := awsstoretest.New(t, emulator.Start(t))
//		st, cfg := env.NewStore(t, nil)
//		...
//	}
package awsstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage/awsstore"
)

// Env is an AWS endpoint with a project KMS key.
type Env struct {
	AWS   aws.Config
	KeyID string // KMS key ARN
	S3    *s3.Client
	DDB   *dynamodb.Client
}

// Endpoint is an AWS endpoint tests run against, such as test/emulator's
// Emulator.
type Endpoint interface {
	AWSConfig(ctx context.Context) (aws.Config, error)
}

// New is NewEnv for one test (or its subtests); it fails t on error.
func New(t testing.TB, e Endpoint) *Env {
	t.Helper()
	env, err := NewEnv(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// NewEnv creates the KMS key at e.
func NewEnv(ctx context.Context, e Endpoint) (*Env, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("registry test key")})
	if err != nil {
		return nil, fmt.Errorf("create KMS key: %w", err)
	}
	return &Env{
		AWS: cfg, KeyID: aws.ToString(key.KeyMetadata.Arn),
		S3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		DDB: dynamodb.NewFromConfig(cfg),
	}, nil
}

// Region is the region of the environment's AWS configuration.
func (e *Env) Region() string { return e.AWS.Region }

// Endpoint is the configuration's endpoint URL ("" for AWS itself).
func (e *Env) Endpoint() string { return aws.ToString(e.AWS.BaseEndpoint) }

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Resources creates a fresh bucket and table set with unique names and
// returns the store configuration for them.
func (e *Env) Resources(ctx context.Context) (awsstore.Config, error) {
	sfx := suffix()
	cfg := awsstore.Config{Bucket: "pkg-artifacts-" + sfx, KMSKeyID: e.KeyID}
	for _, t := range contract.Tables() {
		cfg.Tables = cfg.Tables.With(t.Kind, t.DefaultName()+"-"+sfx)
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
// with cfg.KMSKeyID, public access blocked) and every table of
// contract.Tables() under its name in cfg.Tables, encrypted with
// cfg.KMSKeyID and with the table's TTL attribute switched on.
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
	for _, t := range contract.Tables() {
		in := createTableInput(t, cfg.Tables.Get(t.Kind))
		in.SSESpecification = sse
		if _, err := ddb.CreateTable(ctx, in); err != nil {
			return fmt.Errorf("create table %s: %w", *in.TableName, err)
		}
		if t.TTL == "" {
			continue
		}
		if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: in.TableName,
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTL), Enabled: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("ttl on %s: %w", *in.TableName, err)
		}
	}
	return nil
}

// createTableInput is the on-demand table t of the contract, named name:
// its attribute definitions, hash key and global secondary indexes (each
// projecting all attributes).
func createTableInput(t contract.Table, name string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   []ddbtypes.KeySchemaElement{{AttributeName: aws.String(t.Hash.Name), KeyType: ddbtypes.KeyTypeHash}},
	}
	for _, a := range t.Attributes() {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(a.Name), AttributeType: ddbtypes.ScalarAttributeType(a.Type)})
	}
	for _, ix := range t.Indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String(ix.Hash.Name), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String(ix.Range.Name), KeyType: ddbtypes.KeyTypeRange},
			},
		})
	}
	return in
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
