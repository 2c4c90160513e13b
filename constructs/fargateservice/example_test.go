package fargateservice_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/jwtsecret"
)

// An internal registry service: reachable from the corporate network only, over HTTPS,
// with its signing secret injected from Secrets Manager.
func Example() {
	stack := synthtest.ExampleStack("registry")

	key := encryptionkey.New(stack, "ProjectKey", nil)
	jwt := jwtsecret.New(stack, "JwtSecret", &jwtsecret.Props{EncryptionKey: key})
	svc := fargateservice.New(stack, "Registry", &fargateservice.Props{
		Image: fargateservice.ImageFromDigestURI(
			"public.ecr.aws/acme/registry@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		EncryptionKey:      key,
		IngressCidrs:       []string{"10.0.0.0/8"}, // internal load balancer, the corporate network only
		CertificateArn:     "arn:aws:acm:us-east-1:123456789012:certificate/registry",
		HealthCheckCommand: []string{"CMD", "/registry", "-healthcheck"},
		Environment:        map[string]string{"REGISTRY_ADDR": "0.0.0.0:8080", "REGISTRY_PRODUCTION": "true"},
		Secrets: []fargateservice.ContainerSecret{
			{EnvName: "JWT_SECRET", Secret: jwt, JSONKey: jwt.Field()},
		},
	})
	// The task role starts empty; the stack grants what the application needs.
	key.GrantEncryptDecrypt(svc.TaskRole(), "s3")
	fmt.Println(fargateservice.SecretValueFrom("arn:aws:secretsmanager:us-east-1:123456789012:secret:acme-jwt-secret", jwtsecret.FieldSecret))
	// Output: arn:aws:secretsmanager:us-east-1:123456789012:secret:acme-jwt-secret:jwt_secret::
}
