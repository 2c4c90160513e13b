package awsstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
)

// A validator lives at the contract's key under SSE-KMS with the project key; a
// replacement deletes the version it replaces, and a delete leaves no version.
func TestValidatorObjectUsesContractLayoutAndSSEKMS(t *testing.T) {
	ctx := context.Background()
	st, cfg := env.NewStore(t, nil)
	require.NoError(t, st.CreatePackage(ctx, storage.Package{Name: "lib", Version: "1.0.0", SHA256: "ab", Size: 2, UploadedAt: time.Now().UTC(), Uploader: "alice", BlobKey: "k"}))
	put := func(src string) {
		sum := sha256.Sum256([]byte(src))
		require.NoError(t, st.PutValidator(ctx, storage.Validator{Name: "lib", Version: "1.0.0", SHA256: hex.EncodeToString(sum[:]),
			Size: int64(len(src)), UpdatedAt: time.Now().UTC(), UpdatedBy: "alice", Source: []byte(src)}))
	}
	put("function validate() { return {allow: true} }")
	key := contract.ValidatorObject("lib", "1.0.0")
	head, err := env.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: &key})
	require.NoError(t, err)
	assert.EqualValues(t, "aws:kms", head.ServerSideEncryption)
	assert.Equal(t, env.KeyID, aws.ToString(head.SSEKMSKeyId))

	put("function validate() { return {allow: false, reason: \"no\"} }")
	assert.Len(t, objectVersions(t, cfg.Bucket, contract.ValidatorsPrefix), 1, "the replaced version is gone")

	wrong := storage.Validator{Name: "lib", Version: "1.0.0", SHA256: hex.EncodeToString(make([]byte, 32)), Source: []byte("x")}
	assert.Error(t, st.PutValidator(ctx, wrong), "a source that does not match its SHA-256 is refused")

	_, err = st.DeleteValidator(ctx, "lib", "1.0.0")
	require.NoError(t, err)
	assert.Empty(t, objectVersions(t, cfg.Bucket, contract.ValidatorsPrefix))
}
