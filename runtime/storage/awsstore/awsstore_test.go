package awsstore_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/runtime/storage/storagetest"
)

var env *awsstoretest.Env

func TestMain(m *testing.M) { os.Exit(awsstoretest.Main(m, &env)) }

func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		st, _ := env.NewStore(t, nil)
		return st.Backend()
	})
}

// Two writers of one key (a racing upload of one version): deleting the
// loser's ref removes only its version, even when it was written last, and
// the winner's bytes become the key's current object again.
func TestRefsAddressExactVersions(t *testing.T) {
	ctx := context.Background()
	st, cfg := env.NewStore(t, nil)
	key := st.PackageKey("lib", "1.0.0")
	put := func(body string) string {
		w, err := st.Create(ctx, key)
		require.NoError(t, err)
		_, err = w.Write([]byte(body))
		require.NoError(t, err)
		require.NoError(t, w.Commit(ctx))
		ref := w.(storage.CommittedBlob).Ref()
		require.Contains(t, ref, key+"?versionId=")
		return ref
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
