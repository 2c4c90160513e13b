package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/test/emulator"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, strings.TrimSpace(out.String()), errb.String()
}

// TestBuildAndPush drives the command as the construct's provisioner does: build a
// layout, push it to ECR (the emulator) by the repository URL, again (a no-op), and to a
// plain OCI registry.
func TestBuildAndPush(t *testing.T) {
	layout := filepath.Join(t.TempDir(), "layout")
	code, digest, stderr := runCLI(t, "build", "-layout", layout, "-module", "../../..")
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, digest)

	emu := emulator.Start(t)
	cfg, err := emu.AWSConfig(context.Background())
	require.NoError(t, err)
	client := ecr.NewFromConfig(cfg)
	created, err := client.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{
		RepositoryName: aws.String("acme-registry"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
	})
	require.NoError(t, err)
	repoURL := aws.ToString(created.Repository.RepositoryUri)

	// The SDK's standard variables, as the provisioner's environment sets them.
	t.Setenv("AWS_ENDPOINT_URL", emu.Endpoint())
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")

	code, uri, stderr := runCLI(t, "push", "-layout", layout, "-digest", digest, "-repository", repoURL)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, repoURL+"@"+digest, uri)
	assert.Contains(t, stderr, "pushed "+digest)

	code, again, stderr := runCLI(t, "push", "-layout", layout, "-repository", repoURL)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, uri, again)
	assert.Contains(t, stderr, "already in acme-registry")

	code, _, stderr = runCLI(t, "push", "-layout", layout, "-digest", "sha256:"+strings.Repeat("0", 64), "-repository", repoURL)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "expected sha256:000")

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	target := strings.TrimPrefix(srv.URL, "http://") + "/acme-registry"
	code, pushed, stderr := runCLI(t, "push", "-layout", layout, "-registry", target)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, target+"@"+digest, pushed)
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "usage:"},
		{[]string{"deploy"}, `unknown command "deploy"`},
		{[]string{"build"}, "-layout is required"},
		{[]string{"push", "-layout", "x"}, "exactly one of -repository and -registry"},
		{[]string{"push", "-layout", "x", "-repository", "a", "-registry", "b"}, "exactly one of -repository and -registry"},
		{[]string{"push", "-layout", "x", "-registry", "b", "-region", "us-east-1"}, "-region applies to -repository only"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		assert.Equal(t, 2, code, "%v", c.args)
		assert.Contains(t, stderr, c.want, "%v", c.args)
	}
	code, _, stderr := runCLI(t, "push", "-layout", t.TempDir(), "-repository", "not-a-url")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is not an OCI image layout")
}
