package image_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/image"
	"github.com/acme/module-registry/test/emulator"
)

// TestPushECR pushes the real image through the ECR API to the (patched) emulator, as it
// would to ECR, and reads it back.
func TestPushECR(t *testing.T) {
	ctx := context.Background()
	img := builtRegistry(t)
	digest := digestOf(t, img)
	emu := emulator.Start(t)
	cfg, err := emu.AWSConfig(ctx)
	require.NoError(t, err)
	client := ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.RetryMaxAttempts = 1 })
	created, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:     aws.String("acme-registry"),
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
	})
	require.NoError(t, err)
	repo, err := image.ParseRepositoryURL(aws.ToString(created.Repository.RepositoryUri))
	require.NoError(t, err)

	res, err := image.PushECR(ctx, client, repo, img)
	require.NoError(t, err)
	assert.False(t, res.AlreadyPresent)
	assert.Equal(t, digest, res.Digest)
	assert.Equal(t, repo.URL+"@"+digest.String(), res.URI)
	cfgName, err := img.ConfigName()
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	layerDigest, err := layers[0].Digest()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{cfgName.String(), layerDigest.String()}, hashes(res.Uploaded), "config and layer uploaded")

	described, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(repo.Name),
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest.String())}},
	})
	require.NoError(t, err)
	require.Len(t, described.ImageDetails, 1)
	assert.Equal(t, digest.String(), aws.ToString(described.ImageDetails[0].ImageDigest), "ECR's digest is the local one")
	assert.Equal(t, []string{image.TagFor(digest)}, described.ImageDetails[0].ImageTags)

	got, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RepositoryName: aws.String(repo.Name),
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest.String())}},
	})
	require.NoError(t, err)
	require.Len(t, got.Images, 1)
	raw, err := img.RawManifest()
	require.NoError(t, err)
	assert.Equal(t, string(raw), aws.ToString(got.Images[0].ImageManifest), "the manifest bytes, unchanged")
	assert.Equal(t, "application/vnd.oci.image.manifest.v1+json", aws.ToString(got.Images[0].ImageManifestMediaType))

	avail, err := client.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String(repo.Name), LayerDigests: []string{layerDigest.String(), cfgName.String()},
	})
	require.NoError(t, err)
	assert.Len(t, avail.Layers, 2, "both blobs stored: %+v", avail.Failures)

	// Pushing the same image again into the IMMUTABLE repository is a no-op, not an error.
	again, err := image.PushECR(ctx, client, repo, img)
	require.NoError(t, err)
	assert.True(t, again.AlreadyPresent)
	assert.Empty(t, again.Uploaded)
	assert.Equal(t, res.URI, again.URI)

	missing := repo
	missing.Name = "no-such-repository"
	_, err = image.PushECR(ctx, client, missing, img)
	assert.ErrorContains(t, err, "no-such-repository")
}

func hashes[T interface{ String() string }](in []T) []string {
	out := make([]string, 0, len(in))
	for _, h := range in {
		out = append(out, h.String())
	}
	return out
}
