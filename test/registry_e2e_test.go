package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/hashicorp/terraform-cdk-go/cdktf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	acmeapp "github.com/acme/module-registry/app"
	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/app/localtask"
	"github.com/acme/module-registry/app/smoke"
	"github.com/acme/module-registry/runtime/image"
	"github.com/acme/module-registry/stacks"
	"github.com/acme/module-registry/test/deploy"
)

// TestRegistryEndToEnd deploys the whole registry stack to the emulator, runs the runtime
// as a local process with exactly the environment of the deployed task definition, walks
// the user's path and its error answers, checks what landed in S3 and DynamoDB, destroys
// the stack and checks nothing is left. Each construct of the stack is exercised live, so
// dropping any of them fails this test.
func TestRegistryEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	layout := filepath.Join(t.TempDir(), "image")
	img, err := image.Build(ctx, image.Options{})
	require.NoError(t, err)
	digest, err := image.WriteLayout(layout, img)
	require.NoError(t, err)

	d := deploy.ApplyApp(t, stacks.RegistryStackName, func(scope cdktf.App, cfg config.Config) {
		cfg.ImageLayout = layout
		stacks.NewRegistry(scope, acmeapp.RegistryProps(cfg))
	})
	out := func(name string) string { return d.Output(t, name) }
	assert.True(t, d.PlanIsEmpty(t), "a second plan after apply changes nothing")

	// The deployed platform, construct by construct.
	keyArn := out("kms_key_arn")
	key, err := kms.NewFromConfig(d.AWS).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(out("kms_key_alias"))})
	require.NoError(t, err)
	assert.Equal(t, keyArn, aws.ToString(key.KeyMetadata.Arn))

	trail, err := cloudtrail.NewFromConfig(d.AWS).GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(out("trail_arn"))})
	require.NoError(t, err)
	assert.True(t, aws.ToBool(trail.IsLogging), "the audit trail is logging")

	ecrc := ecr.NewFromConfig(d.AWS)
	imageURI := out("image_uri")
	require.True(t, strings.HasSuffix(imageURI, "@"+digest.String()), "the service runs the image built from this source: %s", imageURI)
	repo := strings.TrimSuffix(imageURI[strings.Index(imageURI, "/")+1:], "@"+digest.String())
	images, err := ecrc.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest.String())}},
	})
	require.NoError(t, err)
	require.Len(t, images.ImageDetails, 1, "the image was pushed during deploy")

	ecsc := ecs.NewFromConfig(d.AWS)
	svcs, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(out("cluster_name")), Services: []string{out("service_name")},
	})
	require.NoError(t, err)
	require.Len(t, svcs.Services, 1)
	assert.Equal(t, out("task_definition_arn"), aws.ToString(svcs.Services[0].TaskDefinition))
	td, err := ecsc.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(out("task_definition_arn"))})
	require.NoError(t, err)
	assert.Equal(t, imageURI, aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image))
	assert.True(t, strings.HasPrefix(out("service_url"), "http://"), out("service_url"))

	// The runtime, configured exactly as the task definition configures its container.
	env, err := localtask.Environment(ctx, d.AWS, out("task_definition_arn"), "")
	require.NoError(t, err)
	for _, name := range []string{"JWT_SECRET", "REGISTRY_ADMIN_PASSWORD", "REGISTRY_BUCKET", "REGISTRY_KMS_KEY_ID", "JWT_SECRET_NAME", "REGISTRY_TABLE_DOWNLOADS"} {
		require.NotEmpty(t, env[name], "the task definition sets %s", name)
	}
	adminPassword := env["REGISTRY_ADMIN_PASSWORD"]
	addr := startRuntime(t, env, d.Emulator.Endpoint(), d.Config.Region)
	base := "http://" + addr

	rep, err := smoke.Run(ctx, base, "admin", adminPassword)
	for _, s := range rep.Steps {
		t.Log("smoke: " + s)
	}
	require.NoError(t, err)
	name, version, _ := strings.Cut(rep.Package, "/")

	admin := smoke.New(base)
	require.NoError(t, admin.Login(ctx, "admin", adminPassword))
	content := []byte("end-to-end package body")
	_, err = admin.Upload(ctx, "e2e", "1.0.0", content)
	require.NoError(t, err)

	status := func(c *smoke.Client, method, path string, body []byte, header map[string]string) int {
		t.Helper()
		r, err := c.Do(ctx, method, path, body, header)
		require.NoError(t, err)
		return r.Status
	}
	anonymous := smoke.New(base)
	// The seed's API: a missing or invalid token is 403; bad credentials at login are 401.
	assert.Equal(t, http.StatusForbidden, status(anonymous, http.MethodGet, "/packages", nil, nil), "no token")
	assert.Equal(t, http.StatusForbidden, status(anonymous, http.MethodGet, "/packages", nil,
		map[string]string{"X-Authorization": "bearer not-a-jwt"}), "invalid token")
	assert.Error(t, smoke.New(base).Login(ctx, "admin", adminPassword+"x"), "a wrong password is refused")
	assert.Equal(t, http.StatusUnauthorized, status(smoke.New(base), http.MethodPut, "/authenticate",
		[]byte(`{"user":{"name":"admin"},"secret":{"password":"wrong-password-123"}}`), map[string]string{"Content-Type": "application/json"}))

	assert.Equal(t, http.StatusCreated, status(admin, http.MethodPost, "/users",
		[]byte(`{"name":"reader","password":"reader-password-123","permissions":["download"]}`), map[string]string{"Content-Type": "application/json"}))
	reader := smoke.New(base)
	require.NoError(t, reader.Login(ctx, "reader", "reader-password-123"))
	assert.Equal(t, http.StatusForbidden, status(reader, http.MethodPut, smoke.PackagePath("e2e", "2.0.0"), content, nil), "download-only user uploads")
	assert.Equal(t, http.StatusOK, status(reader, http.MethodGet, smoke.PackagePath("e2e", "1.0.0"), nil, nil))

	assert.Equal(t, http.StatusConflict, status(admin, http.MethodPut, smoke.PackagePath("e2e", "1.0.0"), []byte("other"), nil), "versions are immutable")
	assert.Equal(t, http.StatusUnprocessableEntity, status(admin, http.MethodPut, smoke.PackagePath("e2e", "3.0.0"), content,
		map[string]string{"X-Checksum-SHA256": smoke.SHA256([]byte("not the body"))}), "declared hash differs")
	assert.Equal(t, http.StatusNotFound, status(admin, http.MethodGet, smoke.PackagePath("e2e", "3.0.0"), nil, nil), "a refused upload stores nothing")
	assert.Equal(t, http.StatusUnprocessableEntity, status(admin, http.MethodGet,
		smoke.PackagePath("e2e", "1.0.0")+"?expected_hash="+smoke.SHA256([]byte("x")), nil, nil), "expected_hash differs")
	assert.Equal(t, http.StatusRequestEntityTooLarge, declaredTooLarge(t, base, admin.Token()), "body over the 5 GiB limit")

	// What landed in AWS: objects under the project key, download audit rows.
	s3c := s3.NewFromConfig(d.AWS, func(o *s3.Options) { o.UsePathStyle = true })
	for _, pv := range [][2]string{{name, version}, {"e2e", "1.0.0"}} {
		head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: aws.String(out("artifacts_bucket")), Key: aws.String("packages/" + pv[0] + "/" + pv[1] + "/package.zip"),
		})
		require.NoError(t, err, "%s/%s stored under packages/", pv[0], pv[1])
		assert.Equal(t, s3types.ServerSideEncryptionAwsKms, head.ServerSideEncryption)
		assert.Equal(t, keyArn, aws.ToString(head.SSEKMSKeyId))
	}
	rows, err := dynamodb.NewFromConfig(d.AWS).Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(out("downloads_table"))})
	require.NoError(t, err)
	outcomes := map[string]int{}
	for _, item := range rows.Items {
		n, _ := item["name"].(*ddbtypes.AttributeValueMemberS)
		u, _ := item["user"].(*ddbtypes.AttributeValueMemberS)
		o, _ := item["outcome"].(*ddbtypes.AttributeValueMemberS)
		if n != nil && o != nil {
			who := ""
			if u != nil {
				who = u.Value
			}
			outcomes[fmt.Sprintf("%s %s %s", n.Value, who, o.Value)]++
		}
	}
	assert.GreaterOrEqual(t, outcomes[name+" admin ok"], 2, "streamed and presigned downloads are audited: %v", outcomes)
	assert.GreaterOrEqual(t, outcomes["e2e reader ok"], 1, "%v", outcomes)
	assert.GreaterOrEqual(t, outcomes["e2e admin hash_mismatch"], 1, "%v", outcomes)

	d.AfterDestroy(func(t *testing.T) { assertNothingLeft(t, d.AWS, keyArn) })
}

// startRuntime builds the registry and runs it with env (plus the emulator's endpoint and
// fake credentials in place of the task role, and a free local address) until the test ends.
func startRuntime(t *testing.T, env map[string]string, endpoint, region string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "registry")
	build := exec.Command("go", "build", "-o", bin, "github.com/acme/module-registry/runtime/cmd/registry")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the registry: %v\n%s", err, msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	cmd := exec.Command(bin)
	cmd.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_REGION=" + region, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "REGISTRY_ADDR="+addr)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "registry.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	// Registered after deploy.ApplyApp's destroy, so it runs first: the process is gone
	// before its tables and bucket are.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("registry log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile.Name())
			t.Fatalf("the registry did not become healthy: %v\n%s", err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// declaredTooLarge starts an upload whose declared length is over the limit and returns
// the status; the registry answers before reading the body.
func declaredTooLarge(t *testing.T, base, token string) int {
	t.Helper()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPut, base+smoke.PackagePath("huge", "1.0.0"), pr)
	require.NoError(t, err)
	req.ContentLength = 6 << 30
	req.Header.Set("X-Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode
}

// assertNothingLeft checks that destroy removed every resource of the stack from the
// emulator (the key stays, pending deletion, as KMS requires).
func assertNothingLeft(t *testing.T, cfg aws.Config, keyArn string) {
	ctx := context.Background()
	tables, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
	require.NoError(t, err)
	assert.Empty(t, tables.TableNames)
	buckets, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	assert.Empty(t, buckets.Buckets)
	secrets, err := secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	require.NoError(t, err)
	assert.Empty(t, secrets.SecretList)
	repos, err := ecr.NewFromConfig(cfg).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	require.NoError(t, err)
	assert.Empty(t, repos.Repositories)
	lbs, err := elbv2.NewFromConfig(cfg).DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	require.NoError(t, err)
	assert.Empty(t, lbs.LoadBalancers)
	trails, err := cloudtrail.NewFromConfig(cfg).DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	require.NoError(t, err)
	assert.Empty(t, trails.TrailList)
	ecsc := ecs.NewFromConfig(cfg)
	clusters, err := ecsc.ListClusters(ctx, &ecs.ListClustersInput{})
	require.NoError(t, err)
	if len(clusters.ClusterArns) > 0 { // a deleted cluster stays visible as INACTIVE
		desc, err := ecsc.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: clusters.ClusterArns})
		require.NoError(t, err)
		for _, c := range desc.Clusters {
			assert.Equal(t, "INACTIVE", aws.ToString(c.Status), aws.ToString(c.ClusterArn))
		}
	}
	key, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyArn)})
	require.NoError(t, err)
	assert.Equal(t, kmstypes.KeyStatePendingDeletion, key.KeyMetadata.KeyState)
}
