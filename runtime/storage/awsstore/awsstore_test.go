package awsstore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/runtime/storage/storagetest"
	"github.com/acme/module-registry/test/emulator"
)

var env *awsstoretest.Env

// TestMain runs the package's tests against one emulator.
func TestMain(m *testing.M) {
	ctx := context.Background()
	emu, err := emulator.Launch(ctx, emulator.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulator:", err)
		os.Exit(1)
	}
	code := 1
	if env, err = awsstoretest.NewEnv(ctx, emu); err != nil {
		fmt.Fprintln(os.Stderr, "emulator setup:", err)
	} else {
		code = m.Run()
	}
	emu.Stop()
	os.Exit(code)
}

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Subject {
		st, cfg := env.NewStore(t, nil)
		return storagetest.Subject{Backend: st.Backend(), Committed: func(t *testing.T) []string {
			return objectVersions(t, cfg.Bucket, contract.PackagesPrefix)
		}, WriteLegacyUser: func(t *testing.T, u storage.User) { writeLegacyUser(t, cfg.Tables.Users, u) }}
	})
}

// writeLegacyUser stores u as a users item was written before accounts had an
// identity: no account_id attribute.
func writeLegacyUser(t *testing.T, table string, u storage.User) {
	t.Helper()
	perms := make([]ddbtypes.AttributeValue, len(u.Permissions))
	for i, p := range u.Permissions {
		perms[i] = &ddbtypes.AttributeValueMemberS{Value: p}
	}
	_, err := env.DDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
		contract.AttrUserName: &ddbtypes.AttributeValueMemberS{Value: u.Name},
		"password_hash":       &ddbtypes.AttributeValueMemberS{Value: u.PasswordHash},
		"permissions":         &ddbtypes.AttributeValueMemberL{Value: perms},
		"created_at":          &ddbtypes.AttributeValueMemberS{Value: u.CreatedAt.Format(time.RFC3339Nano)},
	}})
	require.NoError(t, err)
}

// Two writers of one version (a racing upload): both write the contract's
// object key; deleting the loser's ref removes only its version, even when
// it was written last, and the winner's bytes become the key's current
// object again.
func TestRefsAddressExactVersions(t *testing.T) {
	ctx := context.Background()
	st, cfg := env.NewStore(t, nil)
	key := contract.PackageObject("lib", "1.0.0")
	put := func(body string) string {
		w, err := st.Create(ctx, "lib", "1.0.0")
		require.NoError(t, err)
		_, err = w.Write([]byte(body))
		require.NoError(t, err)
		blob, err := w.Commit(ctx, storage.Descriptor{Size: int64(len(body)), SHA256: hexSum([]byte(body))})
		require.NoError(t, err)
		require.Contains(t, blob.Ref, key+"?versionId=")
		return blob.Ref
	}
	winner := put("winner")
	loser := put("loser") // committed last: the key's current object
	require.NoError(t, st.Delete(ctx, loser))
	_, err := st.Open(ctx, loser)
	require.ErrorIs(t, err, storage.ErrNotFound)
	for _, ref := range []string{winner, key} {
		rc, err := st.Open(ctx, ref)
		require.NoError(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		assert.Equal(t, "winner", string(b), ref)
	}
	out, err := env.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &cfg.Bucket})
	require.NoError(t, err)
	assert.Len(t, out.Versions, 1)
	assert.Empty(t, out.DeleteMarkers)
}

// A refused Commit of a multipart upload leaves neither an object nor a
// multipart upload behind.
func TestCommitOfAnotherSizeAbortsTheMultipartUpload(t *testing.T) {
	ctx := context.Background()
	_, cfg := env.NewStore(t, nil)
	cfg.PartSize = 5 << 20
	st, err := awsstore.New(env.AWS, cfg)
	require.NoError(t, err)
	content := randomBytes(t, 11<<20)
	w, err := st.Create(ctx, "big", "1.0.0")
	require.NoError(t, err)
	_, err = w.Write(content)
	require.NoError(t, err)
	_, err = w.Commit(ctx, storage.Descriptor{Size: int64(len(content)) - 1, SHA256: hexSum(content)})
	require.ErrorIs(t, err, storage.ErrSizeMismatch)
	require.NoError(t, w.Abort())
	assert.Empty(t, objectVersions(t, cfg.Bucket, contract.PackagesPrefix))
	assert.Equal(t, 0, multipartUploads(t, cfg.Bucket))
}

// S3's checksum of a single-part object is the SHA-256 of its bytes: a
// Commit declaring another SHA-256 is refused and its version deleted.
func TestCommitRefusesAnotherSHA256(t *testing.T) {
	ctx := context.Background()
	st, cfg := env.NewStore(t, nil)
	w, err := st.Create(ctx, "lib", "1.0.0")
	require.NoError(t, err)
	_, err = w.Write([]byte("the bytes"))
	require.NoError(t, err)
	_, err = w.Commit(ctx, storage.Descriptor{Size: 9, SHA256: hexSum([]byte("other bytes"))})
	require.ErrorContains(t, err, "not that of the declared SHA-256")
	require.NoError(t, w.Abort())
	assert.Empty(t, objectVersions(t, cfg.Bucket, contract.PackagesPrefix))
}
