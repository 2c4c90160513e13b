package test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/containerimage"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/runtime/image"
	"github.com/acme/module-registry/test/deploy"
)

// TestContainerImageLive builds the registry image (no Docker), deploys the repository
// and the push against the emulator, and checks the live repository and image.
func TestContainerImageLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	built, err := image.Build(ctx, image.Options{})
	require.NoError(t, err)
	layout := filepath.Join(t.TempDir(), "registry-image")
	digest, err := image.WriteLayout(layout, built)
	require.NoError(t, err)
	manifest, err := built.RawManifest()
	require.NoError(t, err)

	d := deploy.Apply(t, "containerimage", func(stack cdktf.TerraformStack, cfg config.Config) {
		key := encryptionkey.New(stack, "ProjectKey", nil)
		img := containerimage.New(stack, "RegistryImage", &containerimage.Props{
			EncryptionKey: key,
			LayoutDir:     layout,
			// The push runs as a child of Terraform: point the SDK at the emulator with
			// its fake credentials, and away from any real profile.
			PushEnvironment: map[string]string{
				"AWS_ENDPOINT_URL":            cfg.Endpoint,
				"AWS_REGION":                  cfg.Region,
				"AWS_ACCESS_KEY_ID":           "test",
				"AWS_SECRET_ACCESS_KEY":       "test",
				"AWS_CONFIG_FILE":             "/dev/null",
				"AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
				"AWS_EC2_METADATA_DISABLED":   "true",
			},
			RemovalPolicy: removal.Destroy, // test only: destroy removes the pushed image with the repository
		})
		role := iamrole.NewIamRole(stack, jsii.String("Execution"), &iamrole.IamRoleConfig{
			Name: jsii.String("image-puller"), AssumeRolePolicy: jsii.String(assumeByECSTasks),
		})
		img.GrantPull(role)
		deploy.Output(stack, "image_uri", img.ImageURI())
		deploy.Output(stack, "repository_url", img.RepositoryURL())
		deploy.Output(stack, "repository_arn", img.RepositoryArn())
		deploy.Output(stack, "key_arn", key.KeyArn())
	})
	uri, repoURL, repoArn, keyArn := d.Output(t, "image_uri"), d.Output(t, "repository_url"), d.Output(t, "repository_arn"), d.Output(t, "key_arn")
	assert.Equal(t, repoURL+"@"+digest.String(), uri, "the URI is pinned by the local digest, never a tag")
	client := ecr.NewFromConfig(d.AWS)
	const name = containerimage.DefaultRepositoryName

	repos, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	require.NoError(t, err)
	require.Len(t, repos.Repositories, 1)
	repo := repos.Repositories[0]
	assert.Equal(t, repoArn, aws.ToString(repo.RepositoryArn))
	assert.Equal(t, ecrtypes.ImageTagMutabilityImmutable, repo.ImageTagMutability)
	require.NotNil(t, repo.ImageScanningConfiguration)
	assert.True(t, repo.ImageScanningConfiguration.ScanOnPush, "scan on push")
	require.NotNil(t, repo.EncryptionConfiguration)
	assert.Equal(t, ecrtypes.EncryptionTypeKms, repo.EncryptionConfiguration.EncryptionType)
	assert.Equal(t, keyArn, aws.ToString(repo.EncryptionConfiguration.KmsKey), "encrypted with the project key")

	// ECR.3: the lifecycle policy keeps the images in use and expires the rest.
	lp, err := client.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(name)})
	require.NoError(t, err)
	assert.JSONEq(t, containerimage.LifecyclePolicy(containerimage.DefaultKeepImages), aws.ToString(lp.LifecyclePolicyText))

	byDigest := []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest.String())}}
	images, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(name), ImageIds: byDigest})
	require.NoError(t, err)
	require.Len(t, images.ImageDetails, 1)
	assert.Equal(t, digest.String(), aws.ToString(images.ImageDetails[0].ImageDigest), "ECR's digest is the local one")
	got, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(name), ImageIds: byDigest})
	require.NoError(t, err)
	require.Len(t, got.Images, 1)
	assert.Equal(t, string(manifest), aws.ToString(got.Images[0].ImageManifest))

	t.Run("GrantPullIsThisRepositoryOnly", func(t *testing.T) {
		roles := iam.NewFromConfig(d.AWS)
		names, err := roles.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("image-puller")})
		require.NoError(t, err)
		statements := map[string]policyStatement{}
		for _, n := range names.PolicyNames {
			rp, err := roles.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("image-puller"), PolicyName: aws.String(n)})
			require.NoError(t, err)
			for sid, s := range parsePolicy(t, aws.ToString(rp.PolicyDocument)) {
				statements[sid] = s
			}
		}
		require.Len(t, statements, 2)
		assert.Equal(t, stringList{"*"}, statements[containerimage.GetAuthorizationTokenSid].Resource)
		assert.Equal(t, stringList{"ecr:GetAuthorizationToken"}, statements[containerimage.GetAuthorizationTokenSid].Action)
		assert.ElementsMatch(t, stringList(containerimage.PullActions), statements[containerimage.PullImageSid].Action)
		assert.Equal(t, stringList{repoArn}, statements[containerimage.PullImageSid].Resource)
	})

	// Applying again changes nothing: the push is not re-run for the same digest.
	assert.True(t, d.PlanIsEmpty(t), "plan after apply is empty")

	d.AfterDestroy(func(t *testing.T) {
		_, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
		var notFound *ecrtypes.RepositoryNotFoundException
		assert.True(t, errors.As(err, &notFound), "the repository is gone: %v", err)
	})
}
