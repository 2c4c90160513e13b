package test

import (
	"bytes"
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
	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/image"
	"github.com/acme/module-registry/stacks"
	"github.com/acme/module-registry/test/deploy"
)

// TestRegistryEndToEnd deploys the whole registry stack to the emulator, runs the runtime
// as a local process with exactly the environment of the deployed task definition, walks
// the user's path and its error answers, checks what landed in S3 and DynamoDB, destroys
// the stack and checks nothing is left. Each construct of the stack is exercised live, so
// dropping any of them fails this test. On the same deployment, least privilege is
// proven by evaluation (proveLeastPrivilege).
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

	admin, err := client.New(base, nil)
	require.NoError(t, err)
	_, err = admin.Login(ctx, "admin", adminPassword)
	require.NoError(t, err)
	content := []byte("end-to-end package body")
	_, err = admin.Push(ctx, "e2e", "1.0.0", bytes.NewReader(content), -1, nil)
	require.NoError(t, err)

	// refusal is the status of the registry's error answer.
	refusal := func(err error) int {
		t.Helper()
		var apiErr *client.APIError
		require.ErrorAs(t, err, &apiErr)
		return apiErr.Status
	}
	sha := func(b []byte) string { s, _, _ := client.Digest(bytes.NewReader(b)); return s }
	// The seed's API: a missing or invalid token is 403; bad credentials at login are 401.
	// (The client sends no request without a token, so the first probe goes without it.)
	resp, err := http.Get(base + "/packages")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "no token")
	forged, err := client.New(base, &client.Options{Token: "bearer not-a-jwt"})
	require.NoError(t, err)
	_, err = forged.List(ctx, client.ListOptions{})
	assert.Equal(t, http.StatusForbidden, refusal(err), "invalid token")
	anonymous, err := client.New(base, nil)
	require.NoError(t, err)
	_, err = anonymous.Login(ctx, "admin", adminPassword+"x")
	assert.Error(t, err, "a wrong password is refused")
	_, err = anonymous.Login(ctx, "admin", "wrong-password-123")
	assert.Equal(t, http.StatusUnauthorized, refusal(err))

	_, err = admin.CreateUser(ctx, client.NewUser{Name: "reader", Password: "reader-password-123", Permissions: []string{client.PermDownload}})
	require.NoError(t, err, "201 Created")
	reader, err := client.New(base, nil)
	require.NoError(t, err)
	_, err = reader.Login(ctx, "reader", "reader-password-123")
	require.NoError(t, err)
	_, err = reader.Push(ctx, "e2e", "2.0.0", bytes.NewReader(content), -1, nil)
	assert.Equal(t, http.StatusForbidden, refusal(err), "download-only user uploads")
	download, err := reader.Open(ctx, "e2e", "1.0.0", nil)
	require.NoError(t, err, "200 OK")
	got, err := io.ReadAll(download)
	download.Close()
	require.NoError(t, err, "verified while streaming")
	assert.Equal(t, content, got)

	_, err = admin.Push(ctx, "e2e", "1.0.0", bytes.NewReader([]byte("other")), -1, nil)
	assert.Equal(t, http.StatusConflict, refusal(err), "versions are immutable")
	_, err = admin.Push(ctx, "e2e", "3.0.0", bytes.NewReader(content), -1, &client.PushOptions{SHA256: sha([]byte("not the body"))})
	assert.Equal(t, http.StatusUnprocessableEntity, refusal(err), "declared hash differs")
	_, err = admin.Open(ctx, "e2e", "3.0.0", nil)
	assert.Equal(t, http.StatusNotFound, refusal(err), "a refused upload stores nothing")
	_, err = admin.Open(ctx, "e2e", "1.0.0", &client.DownloadOptions{SHA256: sha([]byte("x"))})
	assert.Equal(t, http.StatusUnprocessableEntity, refusal(err), "expected_hash differs")
	assert.Equal(t, http.StatusRequestEntityTooLarge, refusal(declaredTooLarge(ctx, admin)), "body over the 5 GiB limit")

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
	assert.GreaterOrEqual(t, outcomes[name+" admin validator_denied"], 2, "the smoke's denying validator refused the download and the URL: %v", outcomes)

	checkValidators(t, ctx, admin, reader, s3c, dynamodb.NewFromConfig(d.AWS), out, keyArn)

	t.Run("LeastPrivilegeIsProvenByEvaluation", func(t *testing.T) { proveLeastPrivilege(t, d) })

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

// declaredTooLarge starts an upload whose declared length is over the limit, from a
// stream that never yields a byte: the registry answers before reading the body.
func declaredTooLarge(ctx context.Context, c *client.Client) error {
	pr, pw := io.Pipe()
	defer pw.Close()
	_, err := c.Push(ctx, "huge", "1.0.0", pr, 6<<30, nil)
	return err
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

// checkValidators runs validators through the AWS backend: the script stored under
// validators/ with the project key, an allowing and a denying decision by user name,
// a hostile script failing closed within the deadline, and each run audited in the
// downloads table with its outcome, duration and the script's SHA-256.
func checkValidators(t *testing.T, ctx context.Context, admin, reader *client.Client, s3c *s3.Client, ddb *dynamodb.Client, out func(string) string, keyArn string) {
	allowReader := smoke.AllowOnly("reader")
	v, err := admin.PutValidator(ctx, "e2e", "1.0.0", []byte(allowReader))
	require.NoError(t, err)
	head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(out("artifacts_bucket")), Key: aws.String("validators/e2e/1.0.0/validator.js")})
	require.NoError(t, err, "stored under validators/")
	assert.Equal(t, s3types.ServerSideEncryptionAwsKms, head.ServerSideEncryption)
	assert.Equal(t, keyArn, aws.ToString(head.SSEKMSKeyId))

	r, err := reader.Open(ctx, "e2e", "1.0.0", nil)
	require.NoError(t, err, "the validator allows reader")
	_, err = io.Copy(io.Discard, r)
	r.Close()
	require.NoError(t, err)
	_, err = admin.Open(ctx, "e2e", "1.0.0", nil)
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Status)
	assert.Equal(t, "the package's validator denied the download: only reader may download e2e", apiErr.Message)
	_, err = admin.DownloadURL(ctx, "e2e", "1.0.0", true)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Status, "no presigned URL either")

	loop := "function validate(input) { for (;;) {} }"
	_, err = admin.PutValidator(ctx, "e2e", "1.0.0", []byte(loop))
	require.NoError(t, err)
	start := time.Now()
	_, err = reader.Open(ctx, "e2e", "1.0.0", nil)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Status, "fail closed, never a 5xx")
	assert.Contains(t, apiErr.Message, "(timeout)")
	assert.Less(t, time.Since(start), 7*time.Second, "within the 5 s deadline")
	_, err = admin.DeleteValidator(ctx, "e2e", "1.0.0")
	require.NoError(t, err)

	rows, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(out("downloads_table"))})
	require.NoError(t, err)
	runs := map[string]string{}
	for _, item := range rows.Items {
		n, _ := item["name"].(*ddbtypes.AttributeValueMemberS)
		o, _ := item["validator_outcome"].(*ddbtypes.AttributeValueMemberS)
		h, _ := item["validator_sha256"].(*ddbtypes.AttributeValueMemberS)
		ms, _ := item["validator_ms"].(*ddbtypes.AttributeValueMemberN)
		u, _ := item["user"].(*ddbtypes.AttributeValueMemberS)
		if n != nil && n.Value == "e2e" && o != nil && h != nil && ms != nil && u != nil {
			runs[u.Value+" "+o.Value] = h.Value
		}
	}
	assert.Equal(t, v.SHA256, runs["reader allowed"], "%v", runs)
	assert.Equal(t, v.SHA256, runs["admin denied"], "%v", runs)
	loopSum, _, _ := client.Digest(strings.NewReader(loop))
	assert.Equal(t, loopSum, runs["reader timeout"], "%v", runs)
}
