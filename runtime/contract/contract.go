// Package contract is the deployment contract between the registry's infrastructure
// (constructs and stacks) and its runtime: the DynamoDB tables with their keys, indexes
// and TTL attributes, the bucket layout, the fields of the secrets, and the environment a
// registry task is started with. Both sides import it, so every name is stated once and
// a mismatch cannot be deployed.
//
// It holds constants and small types only - no AWS SDK, no cdktf - so importing it costs
// the runtime binary nothing.
package contract

import "fmt"

// AttributeType is a DynamoDB scalar attribute type.
type AttributeType string

// Attribute types used by the tables' keys.
const (
	String AttributeType = "S"
	Number AttributeType = "N"
)

// Attribute is a key attribute: its name and type.
type Attribute struct {
	Name string
	Type AttributeType
}

// Index is a global secondary index projecting all attributes.
type Index struct {
	Name  string
	Hash  Attribute
	Range Attribute
}

// TableKind names one of the registry's tables independently of its deployed name.
type TableKind string

// The registry's tables.
const (
	Users     TableKind = "users"
	Tokens    TableKind = "tokens"
	Packages  TableKind = "packages"
	Uploads   TableKind = "uploads"
	Downloads TableKind = "downloads"
)

// Key attribute and index names.
const (
	// AttrUserName is the users table's hash key.
	AttrUserName = "name"
	// AttrTokenID is the tokens table's hash key.
	AttrTokenID = "token_id"
	// AttrPackageKey is the packages table's hash key, "name/version" (see PackageKey).
	AttrPackageKey = "pkg_key"
	// AttrPackageName and AttrPackageVersion key the packages table's by_name index.
	AttrPackageName    = "name"
	AttrPackageVersion = "version"
	// AttrRecordID is the hash key of the uploads and downloads tables.
	AttrRecordID = "id"
	// AttrRecordUser and AttrRecordTime (Unix milliseconds) key the downloads table's
	// by_user index. Records of unauthenticated callers leave AttrRecordUser out.
	AttrRecordUser = "user"
	AttrRecordTime = "ts"
	// AttrExpiry holds the Unix time in seconds after which DynamoDB's TTL deletes a
	// token or a pending upload.
	AttrExpiry = "exp_ts"

	// IndexPackagesByName lists a package's versions in order.
	IndexPackagesByName = "by_name"
	// IndexDownloadsByUser lists a user's downloads in time order.
	IndexDownloadsByUser = "by_user"
)

// Table is one of the registry's tables as the runtime expects it deployed.
type Table struct {
	Kind TableKind
	// EnvVar is the variable the runtime reads the deployed table name from.
	EnvVar  string
	Hash    Attribute
	Indexes []Index
	// TTL is the attribute DynamoDB expires items by; "" for none.
	TTL string
}

// DefaultName is the table's name when a deployment does not override it.
func (t Table) DefaultName() string { return string(t.Kind) }

// Attributes are the attributes the key schema and the indexes name, each once, the hash
// key first: exactly the attribute definitions DynamoDB wants.
func (t Table) Attributes() []Attribute {
	out := []Attribute{t.Hash}
	seen := map[string]bool{t.Hash.Name: true}
	for _, ix := range t.Indexes {
		for _, a := range []Attribute{ix.Hash, ix.Range} {
			if !seen[a.Name] {
				seen[a.Name] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// Tables returns the five tables in the order users, tokens, packages, uploads, downloads.
func Tables() []Table {
	str := func(name string) Attribute { return Attribute{Name: name, Type: String} }
	return []Table{
		{Kind: Users, EnvVar: "REGISTRY_TABLE_USERS", Hash: str(AttrUserName)},
		{Kind: Tokens, EnvVar: "REGISTRY_TABLE_TOKENS", Hash: str(AttrTokenID), TTL: AttrExpiry},
		{Kind: Packages, EnvVar: "REGISTRY_TABLE_PACKAGES", Hash: str(AttrPackageKey),
			Indexes: []Index{{Name: IndexPackagesByName, Hash: str(AttrPackageName), Range: str(AttrPackageVersion)}}},
		{Kind: Uploads, EnvVar: "REGISTRY_TABLE_UPLOADS", Hash: str(AttrRecordID), TTL: AttrExpiry},
		{Kind: Downloads, EnvVar: "REGISTRY_TABLE_DOWNLOADS", Hash: str(AttrRecordID),
			Indexes: []Index{{Name: IndexDownloadsByUser, Hash: str(AttrRecordUser), Range: Attribute{Name: AttrRecordTime, Type: Number}}}},
	}
}

// TableOf returns the table of kind; it panics on a kind that is not one of the five
// constants above (a programming error).
func TableOf(kind TableKind) Table {
	for _, t := range Tables() {
		if t.Kind == kind {
			return t
		}
	}
	panic("contract: unknown table " + string(kind))
}

// TableNames holds the deployed name of each table.
type TableNames struct {
	Users, Tokens, Packages, Uploads, Downloads string
}

// DefaultTableNames are the tables' names when nothing overrides them.
func DefaultTableNames() TableNames {
	var n TableNames
	for _, t := range Tables() {
		*n.field(t.Kind) = t.DefaultName()
	}
	return n
}

// Get returns the name of the table of kind.
func (n TableNames) Get(kind TableKind) string { return *n.field(kind) }

// With returns n with the table of kind named name.
func (n TableNames) With(kind TableKind, name string) TableNames {
	*n.field(kind) = name
	return n
}

func (n *TableNames) field(kind TableKind) *string {
	switch kind {
	case Users:
		return &n.Users
	case Tokens:
		return &n.Tokens
	case Packages:
		return &n.Packages
	case Uploads:
		return &n.Uploads
	case Downloads:
		return &n.Downloads
	}
	panic("contract: unknown table " + string(kind))
}

// PackageKey is the packages table's key of one version.
func PackageKey(name, version string) string { return name + "/" + version }

// Layout of the artifacts bucket: the task role's grants cover these prefixes only.
const (
	PackagesPrefix   = "packages/"
	ValidatorsPrefix = "validators/"
)

// BucketPrefixes are every prefix the runtime reads and writes.
func BucketPrefixes() []string { return []string{PackagesPrefix, ValidatorsPrefix} }

// ValidatorObject is the object key of a package version's validator script.
func ValidatorObject(name, version string) string {
	return ValidatorsPrefix + name + "/" + version + "/validator.js"
}

// PackageObject is the object key of a package version's bytes.
func PackageObject(name, version string) string {
	return PackagesPrefix + name + "/" + version + "/package.zip"
}

// Fields of the JWT signing secret's JSON value.
const (
	JWTFieldSecret          = "jwt_secret"
	JWTFieldAlgorithm       = "jwt_algorithm"
	JWTFieldExpirationHours = "jwt_expiration_hours"
	JWTFieldMaxUses         = "jwt_max_uses"
)

// DefaultJWTSecretName is the JWT signing secret's name when nothing overrides it.
const DefaultJWTSecretName = "acme-jwt-secret"

// AdminPasswordField is the JSON field of the administrator password secret.
const AdminPasswordField = "password"

// Environment variables a deployment sets for a registry task.
const (
	EnvBackend       = "REGISTRY_BACKEND"
	EnvAddr          = "REGISTRY_ADDR"
	EnvProduction    = "REGISTRY_PRODUCTION"
	EnvRegion        = "AWS_REGION"
	EnvBucket        = "REGISTRY_BUCKET"
	EnvKMSKeyID      = "REGISTRY_KMS_KEY_ID"
	EnvJWTSecretName = "JWT_SECRET_NAME"
	// EnvJWTSecret and EnvAdminPassword are injected from Secrets Manager, never set
	// as plain values.
	EnvJWTSecret     = "JWT_SECRET"
	EnvAdminPassword = "REGISTRY_ADMIN_PASSWORD"
	// EnvGoMemLimit is the Go runtime's soft memory limit (GoMemLimit of the task's
	// memory); the registry sizes its password-check concurrency from it.
	EnvGoMemLimit = "GOMEMLIMIT"
	// EnvTrustedProxies lists the peers whose X-Forwarded-For names the client, for
	// per-address throttling (LoadBalancerSources on AWS).
	EnvTrustedProxies = "REGISTRY_TRUSTED_PROXIES"
)

// LoadBalancerSources are the addresses a task's requests come from on AWS: the load
// balancer's nodes inside the VPC (the task's security group admits nothing else),
// somewhere in the private address ranges.
const LoadBalancerSources = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

// GoMemLimit is the GOMEMLIMIT value for a task of memoryMiB: nine tenths of it, so
// the Go runtime collects garbage harder before the task reaches its hard limit and
// the rest covers what the runtime does not count (binary, thread stacks).
func GoMemLimit(memoryMiB int) string { return fmt.Sprintf("%dMiB", memoryMiB*9/10) }

// BackendAWS is EnvBackend's value for S3 + DynamoDB storage.
const BackendAWS = "aws"

// Container facts of the runtime's image.
const (
	// Entrypoint is the registry binary in the image.
	Entrypoint = "/registry"
	// HealthcheckFlag makes the binary probe its own HealthPath and exit (the image has
	// no shell or curl).
	HealthcheckFlag = "-healthcheck"
	// HealthPath answers 200 while the registry and its storage are healthy.
	HealthPath = "/health"
	// Port is where the registry listens inside its container.
	Port = 8080
	// ListenAddress is EnvAddr inside the container.
	ListenAddress = "0.0.0.0:8080"
)

// HealthCheckCommand is the container health check.
func HealthCheckCommand() []string { return []string{"CMD", Entrypoint, HealthcheckFlag} }

// Service is what a deployment tells one registry task on AWS.
type Service struct {
	Region        string
	Bucket        string
	KMSKeyID      string // the project key's ARN; every S3 write asks SSE-KMS with it
	JWTSecretName string
	Tables        TableNames
	// MemoryMiB is the task's memory; when set, the environment holds GOMEMLIMIT.
	MemoryMiB int
	// Name is the ECS service's name: the Service dimension of the registry's metrics,
	// which the service's alarms select.
	Name string
	// Validators sizes the validator sandbox; the zero value is ValidatorsFor(MemoryMiB).
	Validators ValidatorSizing
}

// Environment is the task's plain environment for s. The two secrets (EnvJWTSecret from
// the JWT secret's JWTFieldSecret, EnvAdminPassword from the password secret's
// AdminPasswordField) are injected by the task definition's secrets, not here.
func (s Service) Environment() map[string]string {
	env := map[string]string{
		EnvBackend:        BackendAWS,
		EnvAddr:           ListenAddress,
		EnvProduction:     "true",
		EnvRegion:         s.Region,
		EnvBucket:         s.Bucket,
		EnvKMSKeyID:       s.KMSKeyID,
		EnvJWTSecretName:  s.JWTSecretName,
		EnvTrustedProxies: LoadBalancerSources,
	}
	for _, t := range Tables() {
		env[t.EnvVar] = s.Tables.Get(t.Kind)
	}
	if s.Name != "" {
		env[EnvServiceName] = s.Name
	}
	v := s.Validators
	if v == (ValidatorSizing{}) {
		v = ValidatorsFor(s.MemoryMiB)
	}
	env[EnvValidatorPoolSize] = fmt.Sprint(v.PoolSize)
	env[EnvValidatorMemoryBytes] = fmt.Sprint(v.MemoryBytes)
	if s.MemoryMiB > 0 {
		// The validator children live in the task's memory beside the registry: the
		// registry's own soft limit leaves room for a full pool of them.
		env[EnvGoMemLimit] = GoMemLimit(s.MemoryMiB - v.ReserveMiB())
	}
	return env
}

// SecretVariables are the variables a task definition injects from Secrets Manager.
func SecretVariables() []string { return []string{EnvJWTSecret, EnvAdminPassword} }

// The environment of the secrets' rotation function (runtime/cmd/rotate-secret).
const (
	// EnvRotationStrategy picks what the function rotates.
	EnvRotationStrategy = "ROTATION_STRATEGY"
	// RotationJWT rotates the JWT signing secret.
	RotationJWT = "jwt"
	// RotationAdminPassword rotates the administrator's password and applies it.
	RotationAdminPassword = "admin-password"
	// EnvAdminUser names the bootstrap administrator, for the registry and the rotation.
	EnvAdminUser = "REGISTRY_ADMIN_USER"
	// DefaultAdminUser is the administrator's name when EnvAdminUser is unset.
	DefaultAdminUser = "admin"
)

// AdminRotationEnvironment is the environment of the administrator password's rotation
// function: the strategy, the administrator, and the storage settings of s (bucket, key,
// tables) that the runtime's AWS backend is configured with. No secrets.
func (s Service) AdminRotationEnvironment(adminUser string) map[string]string {
	env := map[string]string{
		EnvRotationStrategy: RotationAdminPassword,
		EnvAdminUser:        adminUser,
		EnvBucket:           s.Bucket,
		EnvKMSKeyID:         s.KMSKeyID,
	}
	for _, t := range Tables() {
		env[t.EnvVar] = s.Tables.Get(t.Kind)
	}
	return env
}

// Attributes of the validator attached to a package version, on the version's
// packages-table item (the script itself is the S3 object ValidatorObject), and of a
// validator run, on a downloads-table record (AttrValidatorSHA256 on both).
const (
	// AttrValidatorRef is the S3 key and version of the script: replacing a validator
	// never serves bytes other than those recorded.
	AttrValidatorRef       = "validator_ref"
	AttrValidatorSHA256    = "validator_sha256"
	AttrValidatorSize      = "validator_size"
	AttrValidatorUpdatedAt = "validator_updated_at"
	AttrValidatorUpdatedBy = "validator_updated_by"
	AttrValidatorOutcome   = "validator_outcome"
	AttrValidatorMillis    = "validator_ms"
)

// Environment variables of the validator sandbox and the registry's metrics.
const (
	// EnvValidatorPoolSize is how many validators run at once.
	EnvValidatorPoolSize = "REGISTRY_VALIDATOR_POOL_SIZE"
	// EnvValidatorMemoryBytes is one validator's data and address-space quota.
	EnvValidatorMemoryBytes = "REGISTRY_VALIDATOR_MEMORY_BYTES"
	// EnvValidatorDeadline is one validator's wall-clock limit (at most 5s).
	EnvValidatorDeadline = "REGISTRY_VALIDATOR_DEADLINE"
	// EnvServiceName is the value of the metrics' Service dimension.
	EnvServiceName = "REGISTRY_SERVICE_NAME"
)

// The registry's metrics, extracted by CloudWatch from the Embedded Metric Format
// block of its log lines: every metric has the one dimension MetricDimension, whose
// value is the service's name (EnvServiceName).
const (
	MetricsNamespace = "ACME/Registry"
	MetricDimension  = "Service"
	// MetricValidatorTimeouts and MetricValidatorErrors count validator runs that
	// ended in a timeout, and in an error (a throw, a malformed result, a crash).
	MetricValidatorTimeouts = "ValidatorTimeout"
	MetricValidatorErrors   = "ValidatorError"
	// DefaultServiceName is the Service dimension when EnvServiceName is unset.
	DefaultServiceName = "registry"
)

// ValidatorSizing is how many validator children a task runs at once and the memory
// each may take.
type ValidatorSizing struct {
	PoolSize    int
	MemoryBytes int64
}

// validatorChildOverheadMiB is a child's resident footprint before its quota: the
// registry binary (its text mostly shared with the parent's) and the Go runtime,
// measured at 32 MiB peak for a trivial validator, with room.
const validatorChildOverheadMiB = 40

// ReserveMiB is the task memory a full pool can occupy.
func (v ValidatorSizing) ReserveMiB() int {
	return v.PoolSize * (int(v.MemoryBytes>>20) + validatorChildOverheadMiB)
}

// ValidatorsFor sizes the sandbox for a task of memoryMiB: a pool of 2 children of
// 64 MiB on the default 512 MiB task (a third of it), 4 of 128 MiB from 1 GiB up.
func ValidatorsFor(memoryMiB int) ValidatorSizing {
	if memoryMiB >= 1024 {
		return ValidatorSizing{PoolSize: 4, MemoryBytes: 128 << 20}
	}
	return ValidatorSizing{PoolSize: 2, MemoryBytes: 64 << 20}
}

// Ulimit is a container resource limit of the task definition.
type Ulimit struct {
	Name       string
	Soft, Hard int
}

// ContainerUlimits are the limits a registry container runs under. The validator
// children lower their own limits further (they can only lower them); these are the
// ceilings: no core dumps, the open files Fargate gives by default, and a task
// count that bounds a fork storm while leaving the registry and a full pool of
// children their threads.
func ContainerUlimits() []Ulimit {
	return []Ulimit{
		{Name: "core", Soft: 0, Hard: 0},
		{Name: "nofile", Soft: 65535, Hard: 65535},
		{Name: "nproc", Soft: 4096, Hard: 4096},
	}
}
