package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/test/emulator"
)

// TestAWSBackend runs registry processes on the AWS backend, on resources
// in one emulator.
func TestAWSBackend(t *testing.T) {
	env := awsstoretest.New(t, emulator.Start(t))
	t.Run("Processes", func(t *testing.T) { testProcesses(t, env) })
	t.Run("GeneratedAdminPasswordRace", func(t *testing.T) { testGeneratedAdminPasswordRace(t, env) })
}

// taskEnv is the environment a deployment gives a registry task on cfg's
// resources (contract.Service.Environment), listening on a free local port
// and pointed at the emulator with its fake credentials, followed by the
// overrides ("NAME=value", the last one of a name wins).
func taskEnv(env *awsstoretest.Env, cfg awsstore.Config, secretName string, overrides ...string) []string {
	svc := contract.Service{Region: env.Region(), Bucket: cfg.Bucket, KMSKeyID: cfg.KMSKeyID, JWTSecretName: secretName, Tables: cfg.Tables}
	var vars []string
	for k, v := range svc.Environment() {
		vars = append(vars, k+"="+v)
	}
	sort.Strings(vars)
	vars = append(vars, contract.EnvAddr+"=127.0.0.1:0", "AWS_ENDPOINT_URL="+env.Endpoint(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	return append(vars, overrides...)
}

func runHealthcheck(t *testing.T, addr string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary(t), "-healthcheck")
	cmd.Env = append(os.Environ(), "REGISTRY_ADDR="+addr)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

// startRegistries starts n registries at once, each with its own data
// directory.
func startRegistries(t *testing.T, n int, env ...string) []*proc {
	t.Helper()
	procs := make([]*proc, n)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i] = startRegistry(t, t.TempDir(), env...)
		}()
	}
	wg.Wait()
	for _, p := range procs {
		require.NotNil(t, p)
	}
	return procs
}

// Three tasks start at once on the same tables in production, with the JWT
// secret only in Secrets Manager: one creates the administrator, all serve,
// and a token from one task is accepted by another.
func testProcesses(t *testing.T, env *awsstoretest.Env) {
	ctx := context.Background()
	cfg, err := env.Resources(ctx)
	require.NoError(t, err)
	secretName := "jwt-" + cfg.Bucket
	_, err = secretsmanager.NewFromConfig(env.AWS).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &secretName,
		SecretString: aws.String(`{"jwt_secret":"` + strings.Repeat("z", 32) + `","jwt_algorithm":"HS256","jwt_expiration_hours":10,"jwt_max_uses":1000}`)})
	require.NoError(t, err)
	procs := startRegistries(t, 3, taskEnv(env, cfg, secretName, contract.EnvJWTSecret+"=")...)
	for _, p := range procs {
		assert.NotContains(t, p.stderr.String(), "created with password", "no password is printed when one is configured")
	}
	users, err := env.DDB.Scan(ctx, &dynamodb.ScanInput{TableName: &cfg.Tables.Users})
	require.NoError(t, err)
	assert.EqualValues(t, 1, users.Count)

	tok := procs[0].token(t)
	resp, body := procs[1].request(t, "PUT", "/packages/hello/1.0.0", tok, strings.NewReader("hello from task 1"))
	require.Equal(t, 201, resp.StatusCode, "%s", body)
	resp, body = procs[2].request(t, "GET", "/packages/hello/1.0.0", tok, nil)
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "hello from task 1", string(body))
	resp, body = procs[2].request(t, "GET", "/packages/hello/1.0.0/download-url", tok, nil)
	require.Equal(t, 200, resp.StatusCode, "%s", body)

	addr := strings.TrimPrefix(procs[0].url, "http://")
	code, out := runHealthcheck(t, addr)
	assert.Equal(t, 0, code, out)
	require.NoError(t, procs[0].cmd.Process.Signal(syscall.SIGTERM))
	<-procs[0].done
	code, out = runHealthcheck(t, addr)
	assert.Equal(t, 1, code, "a stopped server fails the probe")
	assert.Contains(t, out, "healthcheck:")
}

// Without a configured password, tasks racing to bootstrap the
// administrator print exactly one generated password, and it is the one
// stored.
func testGeneratedAdminPasswordRace(t *testing.T, env *awsstoretest.Env) {
	ctx := context.Background()
	cfg, err := env.Resources(ctx)
	require.NoError(t, err)
	// Development mode: no Secrets Manager secret (JWT_SECRET instead) and
	// no configured administrator password.
	vars := taskEnv(env, cfg, "", contract.EnvProduction+"=false", contract.EnvJWTSecret+"="+strings.Repeat("j", 32),
		contract.EnvAdminPassword+"=", "REGISTRY_QUIET_DEV_WARNING=1", "AWS_MAX_ATTEMPTS=1")
	procs := startRegistries(t, 4, vars...)
	var printed []string
	for _, p := range procs {
		if m := passwordRE.FindStringSubmatch(p.stderr.String()); m != nil {
			printed = append(printed, m[1])
		}
	}
	require.Len(t, printed, 1, "exactly one task creates the administrator and prints its password")
	body := `{"user":{"name":"admin","is_admin":true},"secret":{"password":"` + printed[0] + `"}}`
	for _, p := range procs {
		req, _ := http.NewRequest("PUT", p.url+"/authenticate", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, "the printed password is the stored one")
	}
}

var passwordRE = regexp.MustCompile(`created with password: (\S+)`)

func TestProductionFailsWhenSecretsManagerUnreachable(t *testing.T) {
	cmd := exec.Command(binary(t))
	cmd.Env = append(os.Environ(), "REGISTRY_ADDR=127.0.0.1:0", "REGISTRY_BACKEND=aws", "REGISTRY_PRODUCTION=true", "JWT_SECRET=",
		"REGISTRY_ADMIN_PASSWORD=a-long-admin-password", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=http://127.0.0.1:1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_MAX_ATTEMPTS=1",
		"REGISTRY_BUCKET=pkg-artifacts", "REGISTRY_KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/k")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), "no usable JWT secret in production")
	assert.Contains(t, string(out), "acme-jwt-secret")
}
