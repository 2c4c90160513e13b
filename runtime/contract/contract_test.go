package contract_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acme/module-registry/runtime/contract"
)

func TestTablesAreDistinctAndComplete(t *testing.T) {
	kinds, envs := map[contract.TableKind]bool{}, map[string]bool{}
	for _, tbl := range contract.Tables() {
		assert.False(t, kinds[tbl.Kind], "kind %s twice", tbl.Kind)
		assert.False(t, envs[tbl.EnvVar], "variable %s twice", tbl.EnvVar)
		kinds[tbl.Kind], envs[tbl.EnvVar] = true, true
		assert.Equal(t, tbl, contract.TableOf(tbl.Kind))
		assert.Equal(t, tbl.Hash, tbl.Attributes()[0], "hash key first")
	}
	assert.Len(t, kinds, 5)
	assert.Panics(t, func() { contract.TableOf("nope") })
}

func TestAttributesNameEachKeyOnce(t *testing.T) {
	assert.Equal(t, []contract.Attribute{{"id", contract.String}, {"user", contract.String}, {"ts", contract.Number}},
		contract.TableOf(contract.Downloads).Attributes())
	assert.Equal(t, []contract.Attribute{{"pkg_key", contract.String}, {"name", contract.String}, {"version", contract.String}},
		contract.TableOf(contract.Packages).Attributes())
	assert.Equal(t, []contract.Attribute{{"name", contract.String}}, contract.TableOf(contract.Users).Attributes())
}

func TestTableNames(t *testing.T) {
	n := contract.DefaultTableNames()
	assert.Equal(t, contract.TableNames{Users: "users", Tokens: "tokens", Packages: "packages", Uploads: "uploads", Downloads: "downloads"}, n)
	m := n.With(contract.Tokens, "team-b-tokens")
	assert.Equal(t, "team-b-tokens", m.Get(contract.Tokens))
	assert.Equal(t, "tokens", n.Get(contract.Tokens), "With copies")
}

func TestServiceEnvironmentNamesEveryTable(t *testing.T) {
	env := contract.Service{Region: "us-east-1", Bucket: "b", KMSKeyID: "k", JWTSecretName: "s", Tables: contract.DefaultTableNames()}.Environment()
	for _, tbl := range contract.Tables() {
		assert.Equal(t, string(tbl.Kind), env[tbl.EnvVar])
	}
	for _, v := range contract.SecretVariables() {
		assert.NotContains(t, env, v, "secrets are injected, never plain")
	}
	assert.Equal(t, contract.BackendAWS, env[contract.EnvBackend])
	assert.NotContains(t, env, contract.EnvGoMemLimit, "no memory given, no limit")
}

func TestServiceEnvironmentLimitsMemory(t *testing.T) {
	env := contract.Service{Region: "us-east-1", Tables: contract.DefaultTableNames(), MemoryMiB: 512}.Environment()
	// 512 MiB less a full validator pool (2 x (64 + 40) MiB), nine tenths of that.
	assert.Equal(t, "273MiB", env[contract.EnvGoMemLimit])
	assert.Equal(t, "2", env[contract.EnvValidatorPoolSize])
	assert.Equal(t, "67108864", env[contract.EnvValidatorMemoryBytes])
	assert.Equal(t, "921MiB", contract.GoMemLimit(1024))
	big := contract.Service{MemoryMiB: 2048}.Environment()
	assert.Equal(t, "4", big[contract.EnvValidatorPoolSize])
	assert.Equal(t, fmt.Sprint(int((2048-4*(128+40))*9/10))+"MiB", big[contract.EnvGoMemLimit])
}

func TestValidatorObjectIsUnderItsPrefix(t *testing.T) {
	assert.Equal(t, "validators/hello/1.0.0/validator.js", contract.ValidatorObject("hello", "1.0.0"))
	assert.Contains(t, contract.BucketPrefixes(), contract.ValidatorsPrefix, "the task role's grants cover the validators")
}

// The environment a deployment gives a registry task, as the stack writes it into the
// task definition and the runtime reads it back.
func ExampleService_Environment() {
	env := contract.Service{
		Region: "us-east-1", Bucket: "pkg-artifacts", KMSKeyID: "arn:aws:kms:us-east-1:111122223333:key/k",
		JWTSecretName: contract.DefaultJWTSecretName, Tables: contract.DefaultTableNames(), MemoryMiB: 512,
	}.Environment()
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Printf("%s=%s\n", k, env[k])
	}
	// Output:
	// AWS_REGION=us-east-1
	// GOMEMLIMIT=273MiB
	// JWT_SECRET_NAME=acme-jwt-secret
	// REGISTRY_ADDR=0.0.0.0:8080
	// REGISTRY_BACKEND=aws
	// REGISTRY_BUCKET=pkg-artifacts
	// REGISTRY_KMS_KEY_ID=arn:aws:kms:us-east-1:111122223333:key/k
	// REGISTRY_PRODUCTION=true
	// REGISTRY_TABLE_DOWNLOADS=downloads
	// REGISTRY_TABLE_PACKAGES=packages
	// REGISTRY_TABLE_TOKENS=tokens
	// REGISTRY_TABLE_UPLOADS=uploads
	// REGISTRY_TABLE_USERS=users
	// REGISTRY_TRUSTED_PROXIES=10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7
	// REGISTRY_VALIDATOR_MEMORY_BYTES=67108864
	// REGISTRY_VALIDATOR_POOL_SIZE=2
}
