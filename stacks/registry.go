package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/app/config"
	"github.com/acme/module-registry/constructs/audittrail"
	"github.com/acme/module-registry/constructs/containerimage"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/constructs/passwordsecret"
	"github.com/acme/module-registry/constructs/registrytables"
	"github.com/acme/module-registry/constructs/securebucket"
)

// RegistryStackName is the id of the registry stack in cdktf.out/stacks.
const RegistryStackName = "registry"

// ServiceHealthCheck is the container health check: the image has no shell, so the
// registry binary checks its own /health.
var ServiceHealthCheck = []string{"CMD", "/registry", "-healthcheck"}

// ServiceListenAddress is where the registry listens inside its container.
const ServiceListenAddress = "0.0.0.0:8080"

// Prefixes of the artifacts bucket the service may read and write.
var ServicePrefixes = []string{"packages/", "validators/"}

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

// NewRegistry composes the registry platform for cfg: the project key; the artifacts
// bucket and the five tables under it; the audit trail over both; the JWT signing secret
// and the bootstrap administrator's password; the runtime's image pushed to ECR; and the
// Fargate service running it, granted exactly what the runtime uses.
func NewRegistry(scope constructs.Construct, cfg config.Config) *Registry {
	stack := NewBase(scope, RegistryStackName, cfg)
	// Only the emulator's resources may be destroyed with data in them or without a
	// recovery window; every real environment keeps all protections.
	local := cfg.IsLocal()

	key := encryptionkey.New(stack, "ProjectKey", &encryptionkey.Props{Alias: cfg.KeyAlias})
	artifacts := securebucket.New(stack, "Artifacts", &securebucket.Props{
		BucketName: cfg.ArtifactsBucket, EncryptionKey: key, ForceDestroy: local,
	})
	tables := registrytables.New(stack, "Tables", &registrytables.Props{
		EncryptionKey: key, DisableDeletionProtection: local,
	})
	tableArns := make([]string, 0, 5)
	for _, t := range tables.All() {
		tableArns = append(tableArns, *t.Arn())
	}
	trail := audittrail.New(stack, "AuditTrail", &audittrail.Props{
		EncryptionKey:         key,
		ArtifactsBucketName:   cfg.ArtifactsBucket,
		DataEventBuckets:      []*securebucket.Bucket{artifacts},
		DataEventTableArns:    tableArns,
		ForceDestroyLogBucket: local,
	})
	jwt := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{EncryptionKey: key, ForceDeleteWithoutRecovery: local})
	admin := passwordsecret.New(stack, "AdminPassword", &passwordsecret.Props{EncryptionKey: key, ForceDeleteWithoutRecovery: local})

	push := map[string]string{"AWS_REGION": cfg.Region}
	if local {
		// The emulator's fake credentials; never real ones (containerimage refuses those).
		push["AWS_ENDPOINT_URL"] = cfg.Endpoint
		push["AWS_ACCESS_KEY_ID"] = "test"
		push["AWS_SECRET_ACCESS_KEY"] = "test"
	}
	image := containerimage.New(stack, "Image", &containerimage.Props{
		EncryptionKey: key, LayoutDir: cfg.ImageLayout, PushEnvironment: push, ForceDelete: local,
	})

	env := map[string]string{
		"REGISTRY_BACKEND":    "aws",
		"REGISTRY_ADDR":       ServiceListenAddress,
		"REGISTRY_PRODUCTION": "true",
		"AWS_REGION":          cfg.Region,
		"REGISTRY_BUCKET":     *artifacts.BucketName(),
		"REGISTRY_KMS_KEY_ID": *key.KeyArn(),
		"JWT_SECRET_NAME":     *jwt.SecretName(),
	}
	for k, v := range tables.Environment() {
		env[k] = *v
	}
	svc := fargateservice.New(stack, "Service", &fargateservice.Props{
		Image:                     image,
		EncryptionKey:             key,
		IngressCidrs:              cfg.IngressCidrs,
		Internal:                  !cfg.InternetFacing,
		CertificateArn:            cfg.CertificateArn,
		AllowPlainHTTP:            local,
		DisableDeletionProtection: local,
		HealthCheckCommand:        ServiceHealthCheck,
		Environment:               env,
		Secrets: []fargateservice.ContainerSecret{
			{EnvName: "JWT_SECRET", Secret: jwt, JSONKey: jwtsecret.FieldSecret},
			{EnvName: "REGISTRY_ADMIN_PASSWORD", Secret: admin, JSONKey: admin.Field()},
		},
	})
	artifacts.GrantReadWrite(svc.TaskRole(), ServicePrefixes...)
	tables.GrantReadWrite(svc.TaskRole())
	// The runtime reads the secret itself too (AWSCURRENT and AWSPREVIOUS), so a rotation
	// logs nobody out; JWT_SECRET from the task definition is only its fallback.
	jwt.GrantRead(svc.TaskRole())

	output(stack, "service_url", svc.ServiceURL(), "URL of the registry's load balancer")
	output(stack, "kms_key_arn", key.KeyArn(), "ARN of the project KMS key")
	output(stack, "kms_key_alias", key.AliasName(), "Alias of the project KMS key")
	output(stack, "artifacts_bucket", artifacts.BucketName(), "Name of the SSE-KMS artifacts bucket")
	names := tables.Names()
	output(stack, "users_table", jsii.String(names.Users), "DynamoDB table of users")
	output(stack, "tokens_table", jsii.String(names.Tokens), "DynamoDB table of issued tokens")
	output(stack, "packages_table", jsii.String(names.Packages), "DynamoDB table of package versions")
	output(stack, "uploads_table", jsii.String(names.Uploads), "DynamoDB table of uploads")
	output(stack, "downloads_table", jsii.String(names.Downloads), "DynamoDB table of download audit records")
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

func output(stack cdktf.TerraformStack, id string, value *string, description string) {
	cdktf.NewTerraformOutput(stack, jsii.String(id), &cdktf.TerraformOutputConfig{
		Value: value, Description: jsii.String(description), StaticId: jsii.Bool(true),
	})
}
