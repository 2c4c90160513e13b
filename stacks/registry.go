package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/audittrail"
	"github.com/acme/module-registry/constructs/containerimage"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/constructs/passwordsecret"
	"github.com/acme/module-registry/constructs/registrytables"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/constructs/securebucket"
	"github.com/acme/module-registry/runtime/contract"
)

// RegistryStackName is the id of the registry stack in cdktf.out/stacks.
const RegistryStackName = "registry"

// RegistryProps configure the registry stack.
type RegistryProps struct {
	// BaseProps is the provider and backend. With an Emulator the image push is sent
	// there too, with the emulator's fake credentials.
	BaseProps
	// ArtifactsBucket names the artifacts bucket. Default: "pkg-artifacts".
	ArtifactsBucket string
	// KeyAlias names the project key. Default: "alias/acme-main-key".
	KeyAlias string
	// ImageLayout is the OCI image layout of the runtime, built before synth. Required.
	ImageLayout string
	// IngressCidrs may reach the load balancer. Required.
	IngressCidrs []string
	// InternetFacing puts the load balancer in public subnets. Default: false (internal).
	InternetFacing bool
	// CertificateArn is the HTTPS listener's certificate. Required unless AllowPlainHTTP.
	CertificateArn string
	// AllowPlainHTTP serves plain HTTP without a certificate; for the emulator only.
	// Default: false.
	AllowPlainHTTP bool
	// RemovalPolicy removal.Destroy lets destroy delete every resource holding data
	// (buckets with objects, tables, secrets without recovery, the repository with its
	// images, the load balancer); for the emulator only. Default: removal.Retain.
	RemovalPolicy removal.Policy
	// Rotation rotates the JWT secret and the admin password automatically. Required.
	Rotation RotationProps
}

// Registry is the deployed registry platform.
type Registry struct {
	Stack         cdktf.TerraformStack
	Key           *encryptionkey.Key
	Artifacts     *securebucket.Bucket
	Tables        *registrytables.Tables
	Trail         *audittrail.Trail
	JWTSecret     *jwtsecret.Secret
	AdminPassword *passwordsecret.Secret
	Image         *containerimage.Image
	Service       *fargateservice.Service
}

// NewRegistry composes the registry platform: the project key; the artifacts bucket and
// the five tables under it; the audit trail over both; the JWT signing secret and the
// bootstrap administrator's password; the runtime's image pushed to ECR; and the Fargate
// service running it, configured by the deployment contract and granted exactly what the
// runtime uses.
func NewRegistry(scope constructs.Construct, p RegistryProps) *Registry {
	stack := NewBase(scope, RegistryStackName, p.BaseProps)
	teardown := p.RemovalPolicy

	key := encryptionkey.New(stack, "ProjectKey", &encryptionkey.Props{Alias: p.KeyAlias})
	// The stack's access-log bucket, named after the artifacts bucket when that name is
	// short enough to start it (else after the stack); every bucket and the load
	// balancer log to it.
	accessLogs := accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{
		NamePrefix: accessLogsPrefix(p.ArtifactsBucket), RemovalPolicy: teardown,
	})
	artifacts := securebucket.New(stack, "Artifacts", &securebucket.Props{
		BucketName: p.ArtifactsBucket, EncryptionKey: key, RemovalPolicy: teardown,
	})
	tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key, RemovalPolicy: teardown})
	tableArns := make([]string, 0, 5)
	for _, t := range tables.All() {
		tableArns = append(tableArns, *t.Arn())
	}
	trail := audittrail.New(stack, "AuditTrail", &audittrail.Props{
		EncryptionKey:       key,
		ArtifactsBucketName: p.ArtifactsBucket,
		DataEventBuckets:    []*securebucket.Bucket{artifacts},
		DataEventTableArns:  tableArns,
		RemovalPolicy:       teardown,
	})
	jwt := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{EncryptionKey: key, RemovalPolicy: teardown})
	admin := passwordsecret.New(stack, "AdminPassword", &passwordsecret.Props{EncryptionKey: key, RemovalPolicy: teardown})

	push := map[string]string{contract.EnvRegion: p.Region}
	if p.IsLocal() {
		// The emulator's fake credentials; never real ones (containerimage refuses those).
		push["AWS_ENDPOINT_URL"] = p.Emulator
		push["AWS_ACCESS_KEY_ID"] = "test"
		push["AWS_SECRET_ACCESS_KEY"] = "test"
	}
	image := containerimage.New(stack, "Image", &containerimage.Props{
		EncryptionKey: key, LayoutDir: p.ImageLayout, PushEnvironment: push, RemovalPolicy: teardown,
	})

	service := contract.Service{
		Region:        p.Region,
		Bucket:        *artifacts.BucketName(),
		KMSKeyID:      *key.KeyArn(),
		JWTSecretName: *jwt.SecretName(),
		Tables:        tables.Names(),
		MemoryMiB:     fargateservice.DefaultMemoryMiB, // the task's memory (Props.MemoryMiB unset): GOMEMLIMIT
		// The service's name (Props.Name unset): the Service dimension of the metrics
		// the validator alarms below select.
		Name: fargateservice.DefaultName,
	}
	ulimits := make([]fargateservice.Ulimit, 0, len(contract.ContainerUlimits()))
	for _, u := range contract.ContainerUlimits() {
		ulimits = append(ulimits, fargateservice.Ulimit{Name: u.Name, SoftLimit: u.Soft, HardLimit: u.Hard})
	}
	validatorAlarm := func(suffix, metric, what string) fargateservice.MetricAlarm {
		return fargateservice.MetricAlarm{
			Suffix: suffix, Description: "validator runs of " + service.Name + " that " + what + " (downloads refused, fail closed)",
			Namespace: contract.MetricsNamespace, MetricName: metric,
			Dimensions: map[string]string{contract.MetricDimension: service.Name},
		}
	}
	svc := fargateservice.New(stack, "Service", &fargateservice.Props{
		Image:              image,
		EncryptionKey:      key,
		IngressCidrs:       p.IngressCidrs,
		InternetFacing:     p.InternetFacing,
		CertificateArn:     p.CertificateArn,
		AllowPlainHTTP:     p.AllowPlainHTTP,
		RemovalPolicy:      teardown,
		ContainerPort:      contract.Port,
		HealthCheckCommand: contract.HealthCheckCommand(),
		HealthCheckPath:    contract.HealthPath,
		Environment:        service.Environment(),
		// The validator sandbox's children lower these further themselves.
		Ulimits: ulimits,
		MetricAlarms: []fargateservice.MetricAlarm{
			validatorAlarm("-validator-timeouts", contract.MetricValidatorTimeouts, "ran out of time"),
			validatorAlarm("-validator-errors", contract.MetricValidatorErrors, "threw, returned a malformed result or crashed"),
		},
		Secrets: []fargateservice.ContainerSecret{
			{EnvName: contract.EnvJWTSecret, Secret: jwt, JSONKey: jwt.Field()},
			{EnvName: contract.EnvAdminPassword, Secret: admin, JSONKey: admin.Field()},
		},
	})
	artifacts.GrantReadWrite(svc.TaskRole(), contract.BucketPrefixes()...)
	// Removing a package, or the version a refused upload wrote, deletes exactly that
	// S3 version: a plain delete marker would leave the bytes and could turn a racing
	// winner's version noncurrent, and lifecycle expires noncurrent versions.
	artifacts.GrantDeleteVersions(svc.TaskRole(), contract.BucketPrefixes()...)
	tables.GrantReadWrite(svc.TaskRole())
	// The runtime reads the secret itself too (AWSCURRENT and AWSPREVIOUS), so a rotation
	// logs nobody out; JWT_SECRET from the task definition is only its fallback.
	jwt.GrantRead(svc.TaskRole())
	newRotations(stack, p.Rotation, key, service, jwt, admin, tables)

	output(stack, "service_url", svc.ServiceURL(), "URL of the registry's load balancer")
	output(stack, "kms_key_arn", key.KeyArn(), "ARN of the project KMS key")
	output(stack, "kms_key_alias", key.AliasName(), "Alias of the project KMS key")
	output(stack, "artifacts_bucket", artifacts.BucketName(), "Name of the SSE-KMS artifacts bucket")
	output(stack, "access_logs_bucket", accessLogs.BucketName(), "Bucket the S3 server access logs and the load balancer's access logs go to")
	for _, t := range contract.Tables() {
		output(stack, string(t.Kind)+"_table", jsii.String(service.Tables.Get(t.Kind)), tableOutputs[t.Kind])
	}
	output(stack, "jwt_secret_arn", jwt.SecretArn(), "ARN of the JWT signing secret")
	output(stack, "admin_password_secret", admin.SecretName(), "Secret holding the bootstrap administrator's password")
	output(stack, "trail_arn", trail.TrailArn(), "ARN of the CloudTrail audit trail")
	output(stack, "image_uri", image.ImageURI(), "The runtime's image, pinned by digest")
	output(stack, "task_definition_arn", svc.TaskDefinitionArn(), "The service's task definition")
	output(stack, "cluster_name", svc.ClusterName(), "ECS cluster")
	output(stack, "service_name", svc.ServiceName(), "ECS service")
	return &Registry{
		Stack: stack, Key: key, Artifacts: artifacts, Tables: tables, Trail: trail,
		JWTSecret: jwt, AdminPassword: admin, Image: image, Service: svc,
	}
}

// accessLogsPrefix starts the access-log bucket's name with the artifacts bucket's name
// (its default when unset), or leaves the stack's default when that name is too long.
func accessLogsPrefix(artifacts string) string {
	if artifacts == "" {
		artifacts = securebucket.DefaultBucketName
	}
	if len(artifacts) > accesslogs.MaxNamePrefixLength {
		return ""
	}
	return artifacts
}

// tableOutputs describe the <kind>_table outputs.
var tableOutputs = map[contract.TableKind]string{
	contract.Users:     "DynamoDB table of users",
	contract.Tokens:    "DynamoDB table of issued tokens",
	contract.Packages:  "DynamoDB table of package versions",
	contract.Uploads:   "DynamoDB table of uploads",
	contract.Downloads: "DynamoDB table of download audit records",
}

func output(stack cdktf.TerraformStack, id string, value *string, description string) {
	cdktf.NewTerraformOutput(stack, jsii.String(id), &cdktf.TerraformOutputConfig{
		Value: value, Description: jsii.String(description), StaticId: jsii.Bool(true),
	})
}
