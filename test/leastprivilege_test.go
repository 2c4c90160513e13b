package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/app/localtask"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/test/deploy"
	"github.com/acme/module-registry/test/policy"
)

// proveLeastPrivilege runs the runtime with the task definition's environment of the
// deployed registry stack d behind a recording proxy, walks every path that touches AWS,
// and evaluates each recorded call - and the calls AWS services make for the stack, and
// a matrix of calls that must be refused - against the identity, key, bucket and trust
// policies read back from the deployment. TestRegistryEndToEnd runs it on its
// deployment (one deploy of the whole stack serves both).
func proveLeastPrivilege(t *testing.T, d *deploy.Deployment) {
	ctx := context.Background()
	out := func(name string) string { return d.Output(t, name) }

	env, err := localtask.Environment(ctx, d.AWS, out("task_definition_arn"), "")
	require.NoError(t, err)
	rec := policy.Record(t, d.Emulator.Endpoint())
	base := "http://" + startRuntime(t, env, rec.Endpoint(), d.Config.Region)
	exercise(t, base, env[contract.EnvAdminPassword])

	facts := registryFacts(t, d, env)
	pol, err := policy.ReadBack(ctx, d.AWS, policy.Deployment{
		Partition: facts.Partition,
		Roles:     []string{roleName(facts.TaskRole), roleName(facts.ExecutionRole), roleName(facts.TrailLogRole)},
		Keys:      []string{facts.KeyArn},
		Buckets:   []string{facts.ArtifactsBucket, facts.LogBucket},
	})
	require.NoError(t, err)

	recorded, err := facts.Calls(rec.Requests())
	require.NoError(t, err, "every request the runtime sent maps to a call")
	require.NotEmpty(t, recorded)
	decisions, err := policy.Evaluate(pol, facts.Account, append(append(recorded, facts.ServiceCalls()...), facts.DenyMatrix()...))
	require.NoError(t, err)
	nRecorded, nService := len(recorded), len(facts.ServiceCalls())

	allowed, denied := 0, 0
	for i, dec := range decisions {
		switch {
		case i < nRecorded+nService && dec.Allowed():
			allowed++
		case i < nRecorded+nService:
			t.Errorf("refused, but the system makes this call: %s: %s %s", dec.Call, dec.Result, dec.Decided())
		case !dec.Allowed():
			denied++
			t.Logf("denied as it must be: %s (%s)", dec.Call, dec.Decided())
		default:
			t.Errorf("allowed, but must be refused: %s, by %s", dec.Call, dec.Decided())
		}
		if len(dec.IgnoredContextKeys) > 0 && i < nRecorded+nService {
			t.Errorf("context keys that do not apply to %s: %v", dec.Call.Action, dec.IgnoredContextKeys)
		}
	}

	var unused []string
	for principal, needed := range map[string]map[string]string{
		facts.TaskRole:      taskRoleNeeds,
		facts.ExecutionRole: nil,
		facts.TrailLogRole:  nil,
	} {
		granted, err := pol.Granted(principal)
		require.NoError(t, err)
		require.NotEmpty(t, granted, "%s has policies", principal)
		for _, a := range policy.Unused(granted, principal, decisions, needed) {
			unused = append(unused, roleName(principal)+": "+a)
		}
	}
	assert.Empty(t, unused, "granted but never used (and not listed with the path that needs it)")

	var table bytes.Buffer
	policy.Table(&table, [][2]string{
		{"calls recorded from the runtime", fmt.Sprint(nRecorded)},
		{"calls AWS services make for the stack", fmt.Sprint(nService)},
		{"of those, Allowed", fmt.Sprintf("%d of %d", allowed, nRecorded+nService)},
		{"deny matrix rows Denied", fmt.Sprintf("%d of %d", denied, len(decisions)-nRecorded-nService)},
		{"unused grants", fmt.Sprint(len(unused))},
	})
	t.Log("\n" + table.String())
	// go test shows a passing test's log only with -v; make terratest prints this file.
	require.NoError(t, os.MkdirAll(filepath.Join("..", ".run"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join("..", ".run", "least-privilege-proof.txt"), table.Bytes(), 0o644))
}

// taskRoleNeeds lists the task role's grants that the walk does not exercise, with the
// code path that needs each.
var taskRoleNeeds = map[string]string{}

// exercise walks every path of the runtime that calls AWS: health, login, token use,
// users, a streamed upload in one part and in several, an upload cut off mid-way, a
// presigned upload and its commit, streamed and presigned downloads, a validator's
// life (attach, gate, replace, read, remove), listing, deleting.
func exercise(t *testing.T, base, adminPassword string) {
	t.Helper()
	do := func(method, path, token string, body io.Reader, header map[string]string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("X-Authorization", token)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	expect := func(want int, method, path, token string, body io.Reader, header map[string]string) []byte {
		t.Helper()
		status, b := do(method, path, token, body, header)
		require.Equal(t, want, status, "%s %s: %s", method, path, b)
		return b
	}
	login := func(user, password string) string {
		b := expect(http.StatusOK, http.MethodPut, "/authenticate", "", strings.NewReader(
			fmt.Sprintf(`{"user":{"name":%q},"secret":{"password":%q}}`, user, password)), nil)
		var token string
		require.NoError(t, json.Unmarshal(b, &token))
		return token
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		_, err := rand.Read(b)
		require.NoError(t, err)
		return b
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

	expect(http.StatusOK, http.MethodGet, "/health", "", nil, nil)
	admin := login("admin", adminPassword)
	expect(http.StatusCreated, http.MethodPost, "/users", admin, strings.NewReader(`{"name":"ci","password":"ci-password-123","permissions":["upload","download","search"]}`), nil)
	expect(http.StatusOK, http.MethodGet, "/users", admin, nil, nil)
	ci := login("ci", "ci-password-123")

	small, large := random(64<<10), random(9<<20) // one PutObject; a multipart upload
	for v, body := range map[string][]byte{"1.0.0": small, "2.0.0": large} {
		expect(http.StatusCreated, http.MethodPut, "/packages/proof/"+v, ci, bytes.NewReader(body), map[string]string{"X-Checksum-SHA256": sum(body)})
		got := expect(http.StatusOK, http.MethodGet, "/packages/proof/"+v+"?expected_hash="+sum(body), ci, nil, nil)
		require.Equal(t, sum(body), sum(got))
	}
	// A client that goes away mid-way through a multipart upload: the runtime aborts it.
	var resp *http.Response
	cut, err := http.NewRequest(http.MethodPut, base+"/packages/proof/3.0.0", &cutReader{left: 12 << 20})
	require.NoError(t, err)
	cut.Header.Set("X-Authorization", ci)
	var req *http.Request
	if resp, err = http.DefaultClient.Do(cut); err == nil {
		resp.Body.Close()
		require.NotEqual(t, http.StatusCreated, resp.StatusCode, "an upload whose body fails is not stored")
	}
	expect(http.StatusNotFound, http.MethodGet, "/packages/proof/3.0.0", ci, nil, nil)

	presigned := random(32 << 10)
	b := expect(http.StatusOK, http.MethodPost, "/packages/proof/4.0.0/upload-url", ci,
		strings.NewReader(fmt.Sprintf(`{"sha256":%q,"size":%d}`, sum(presigned), len(presigned))), nil)
	var up struct {
		UploadID string            `json:"upload_id"`
		URL      string            `json:"url"`
		Headers  map[string]string `json:"headers"`
	}
	require.NoError(t, json.Unmarshal(b, &up))
	req, err = http.NewRequest(http.MethodPut, up.URL, bytes.NewReader(presigned))
	require.NoError(t, err)
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(presigned))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "presigned PUT")
	expect(http.StatusCreated, http.MethodPost, "/packages/proof/4.0.0/commit", ci, strings.NewReader(fmt.Sprintf(`{"upload_id":%q}`, up.UploadID)), nil)

	b = expect(http.StatusOK, http.MethodGet, "/packages/proof/4.0.0/download-url", ci, nil, nil)
	var down struct {
		URL string `json:"url"`
	}
	require.NoError(t, json.Unmarshal(b, &down))
	resp, err = http.Get(down.URL)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, sum(presigned), sum(got), "presigned GET")

	// A validator: attached (an S3 version under validators/, recorded on the package's
	// item), run before a download (read by that version), replaced (the old version
	// deleted), read back and removed; deleting a package removes its validator too.
	allow := `function validate(input) { return {allow: input.user.name === "ci", reason: "ci only"} }`
	deny := `function validate(input) { return {allow: false, reason: "closed"} }`
	expect(http.StatusOK, http.MethodPut, "/packages/proof/4.0.0/validator", ci, strings.NewReader(allow), nil)
	got = expect(http.StatusOK, http.MethodGet, "/packages/proof/4.0.0", ci, nil, nil)
	require.Equal(t, sum(presigned), sum(got), "the validator allows ci")
	expect(http.StatusOK, http.MethodPut, "/packages/proof/4.0.0/validator", ci, strings.NewReader(deny), nil)
	expect(http.StatusForbidden, http.MethodGet, "/packages/proof/4.0.0/download-url", ci, nil, nil)
	require.Equal(t, deny, string(expect(http.StatusOK, http.MethodGet, "/packages/proof/4.0.0/validator", ci, nil, nil)))
	expect(http.StatusOK, http.MethodDelete, "/packages/proof/4.0.0/validator", ci, nil, nil)
	expect(http.StatusOK, http.MethodPut, "/packages/proof/1.0.0/validator", ci, strings.NewReader(allow), nil)

	expect(http.StatusOK, http.MethodGet, "/packages?name=proof", ci, nil, nil)
	expect(http.StatusOK, http.MethodGet, "/packages", ci, nil, nil)
	expect(http.StatusOK, http.MethodDelete, "/packages/proof/1.0.0", admin, nil, nil)
	expect(http.StatusNoContent, http.MethodDelete, "/users/ci", admin, nil, nil)
}

// cutReader yields random bytes, then fails: a client that goes away mid-upload.
type cutReader struct{ left int }

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("client went away")
	}
	n := min(len(p), c.left)
	c.left -= n
	_, _ = rand.Read(p[:n])
	return n, nil
}

// registryFacts gathers the deployed registry's names from its outputs, its task
// definition and the emulator.
func registryFacts(t *testing.T, d *deploy.Deployment, env map[string]string) policy.Facts {
	t.Helper()
	ctx := context.Background()
	out := func(name string) string { return d.Output(t, name) }
	td, err := ecs.NewFromConfig(d.AWS).DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(out("task_definition_arn"))})
	require.NoError(t, err)
	sm := secretsmanager.NewFromConfig(d.AWS)
	secretArn := func(id string) string {
		s, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
		require.NoError(t, err)
		return aws.ToString(s.ARN)
	}
	account, region, key := d.Config.AccountID, d.Config.Region, out("kms_key_arn")
	jwt, admin := out("jwt_secret_arn"), secretArn(out("admin_password_secret"))
	tables := map[string]string{}
	var names []string
	for _, tbl := range contract.Tables() {
		name := out(string(tbl.Kind) + "_table")
		tables[name] = key
		names = append(names, name)
	}
	logs := "arn:aws:logs:" + region + ":" + account + ":log-group:"
	imageURI := out("image_uri")
	repo := imageURI[strings.Index(imageURI, "/")+1 : strings.Index(imageURI, "@")]
	return policy.Facts{
		Env: policy.Env{
			Partition: "aws", Region: region, Account: account, Principal: aws.ToString(td.TaskDefinition.TaskRoleArn),
			BucketKeys: map[string]string{out("artifacts_bucket"): key},
			TableKeys:  tables,
			Secrets:    map[string]string{env[contract.EnvJWTSecretName]: jwt},
			SecretKeys: map[string]string{jwt: key, admin: key},
		},
		TaskRole:          aws.ToString(td.TaskDefinition.TaskRoleArn),
		ExecutionRole:     aws.ToString(td.TaskDefinition.ExecutionRoleArn),
		KeyArn:            key,
		ArtifactsBucket:   out("artifacts_bucket"),
		LogBucket:         out("artifacts_bucket") + "-cloudtrail-logs-" + account,
		TrailArn:          out("trail_arn"),
		TrailLogRole:      "arn:aws:iam::" + account + ":role/acme-audit-trail-cloudwatch-logs",
		TrailLogGroup:     logs + "/aws/cloudtrail/acme-audit-trail",
		ContainerLogGroup: logs + "/ecs/" + out("cluster_name"),
		ContainerName:     aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Name),
		Cluster:           out("cluster_name"),
		RepositoryArn:     "arn:aws:ecr:" + region + ":" + account + ":repository/" + repo,
		JWTSecretArn:      jwt,
		AdminSecretArn:    admin,
		Tables:            names,
	}
}

func roleName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }
