package fargateservice_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/jwtsecret"
)

func TestValidation(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(f fixture, p *fargateservice.Props)
		want   []string
	}{
		{"missing required", func(f fixture, p *fargateservice.Props) {
			p.Image, p.EncryptionKey, p.IngressCidrs, p.HealthCheckCommand, p.CertificateArn = nil, nil, nil, nil, ""
		}, []string{"Image: is required", "EncryptionKey: is required", "IngressCidrs: is required",
			"HealthCheckCommand: is required", "CertificateArn: is required"}},
		{"image by tag", func(f fixture, p *fargateservice.Props) {
			p.Image = fargateservice.ImageFromDigestURI("public.ecr.aws/acme/registry:latest")
		}, []string{"Image: ImageURI() \"public.ecr.aws/acme/registry:latest\" must be <registry>/<repository>@sha256:<64 hex digits>"}},
		{"short digest", func(f fixture, p *fargateservice.Props) {
			p.Image = fargateservice.ImageFromDigestURI("public.ecr.aws/acme/registry@sha256:abc")
		}, []string{"Image: ImageURI()"}},
		{"root user", func(f fixture, p *fargateservice.Props) { p.User = "0:0" }, []string{"User: \"0:0\" runs the container as root"}},
		{"root by name", func(f fixture, p *fargateservice.Props) { p.User = "root" }, []string{"User: \"root\" runs the container as root"}},
		{"bad user", func(f fixture, p *fargateservice.Props) { p.User = "a b" }, []string{"User: \"a b\" must be"}},
		{"cpu", func(f fixture, p *fargateservice.Props) { p.CPU = 300 }, []string{"CPU: 300 is not a Fargate CPU value"}},
		{"memory", func(f fixture, p *fargateservice.Props) { p.CPU, p.MemoryMiB = 512, 512 },
			[]string{"MemoryMiB: 512 MiB is not valid with CPU 512 on Fargate; use 1024-4096 in steps of 1024"}},
		{"memory 256", func(f fixture, p *fargateservice.Props) { p.MemoryMiB = 1536 }, []string{"MemoryMiB: 1536 MiB is not valid with CPU 256"}},
		{"arch", func(f fixture, p *fargateservice.Props) { p.CPUArchitecture = "arm" }, []string{"CPUArchitecture: \"arm\" must be X86_64 or ARM64"}},
		{"health command", func(f fixture, p *fargateservice.Props) { p.HealthCheckCommand = []string{"/registry"} }, []string{"HealthCheckCommand: is required"}},
		{"health path", func(f fixture, p *fargateservice.Props) { p.HealthCheckPath = "health" }, []string{"HealthCheckPath: \"health\" must be a path"}},
		{"both listeners", func(f fixture, p *fargateservice.Props) { p.AllowPlainHTTP = true }, []string{"AllowPlainHTTP: must not be set with CertificateArn"}},
		{"cert arn", func(f fixture, p *fargateservice.Props) { p.CertificateArn = "cert" }, []string{"CertificateArn: \"cert\" is not an ACM certificate ARN"}},
		{"ssl policy", func(f fixture, p *fargateservice.Props) { p.SslPolicy = "ELBSecurityPolicy-2016-08" },
			[]string{"SslPolicy: \"ELBSecurityPolicy-2016-08\" must be a TLS 1.3 ELBSecurityPolicy"}},
		{"ssl policy without TLS 1.3", func(f fixture, p *fargateservice.Props) { p.SslPolicy = "ELBSecurityPolicy-TLS-1-2-2017-01" },
			[]string{"SslPolicy: \"ELBSecurityPolicy-TLS-1-2-2017-01\" must be a TLS 1.3 ELBSecurityPolicy"}},
		{"redacted headers", func(f fixture, p *fargateservice.Props) { p.RedactedLogHeaders = []string{"X-Token", ""} },
			[]string{"RedactedLogHeaders[0]: \"X-Token\" must be a lowercase header name", "RedactedLogHeaders[1]: \"\" must be a lowercase header name"}},
		{"ingress cidr", func(f fixture, p *fargateservice.Props) { p.IngressCidrs = []string{"10.0.0.1/8", "any"} },
			[]string{"IngressCidrs[0]: \"10.0.0.1/8\" is not a network", "IngressCidrs[1]: \"any\" is not a network"}},
		{"vpc cidr", func(f fixture, p *fargateservice.Props) { p.VpcCidr = "10.0.0.0/8" }, []string{"VpcCidr: \"10.0.0.0/8\" must be a /16 to /24"}},
		{"vpc cidr syntax", func(f fixture, p *fargateservice.Props) { p.VpcCidr = "10.0.0.0" }, []string{"VpcCidr: \"10.0.0.0\" is not an IPv4 network"}},
		{"zones", func(f fixture, p *fargateservice.Props) { p.AvailabilityZones = []string{"a"} }, []string{"AvailabilityZones: must name exactly two zones"}},
		{"same zone", func(f fixture, p *fargateservice.Props) { p.AvailabilityZones = []string{"a", "a"} }, []string{"AvailabilityZones: must be two different zones"}},
		{"endpoints", func(f fixture, p *fargateservice.Props) { p.ExtraInterfaceEndpointServices = []string{"logs", "K M S"} },
			[]string{"ExtraInterfaceEndpointServices[0]: \"logs\"", "ExtraInterfaceEndpointServices[1]: \"K M S\""}},
		{"existing vpc", func(f fixture, p *fargateservice.Props) {
			p.ExistingVpc = &fargateservice.ExistingVpc{VpcID: "vpc1", PrivateSubnetIDs: []string{"subnet-00000001"}, TaskEgressCidrs: []string{"x"}}
			p.VpcCidr, p.InternetFacing = "10.1.0.0/16", true
		}, []string{"ExistingVpc.VpcID: \"vpc1\" is not a VPC id", "ExistingVpc.PrivateSubnetIDs: needs at least two subnets",
			"ExistingVpc.PublicSubnetIDs: needs at least two subnets", "ExistingVpc.TaskEgressCidrs[0]: \"x\" is not a network",
			"ExistingVpc: is set, so VpcCidr"}},
		{"name", func(f fixture, p *fargateservice.Props) { p.Name = "Acme_Registry" }, []string{"Name: \"Acme_Registry\" must be 1-28 lowercase"}},
		{"long name", func(f fixture, p *fargateservice.Props) { p.Name = strings.Repeat("a", 29) }, []string{"Name: \"" + strings.Repeat("a", 29) + "\" must be 1-28"}},
		{"container", func(f fixture, p *fargateservice.Props) { p.ContainerName, p.ContainerPort = "App", 70000 },
			[]string{"ContainerName: \"App\" must be", "ContainerPort: must be 1-65535, got 70000"}},
		{"env and secrets", func(f fixture, p *fargateservice.Props) {
			s := jwtsecret.New(f.stack, "Jwt", &jwtsecret.Props{EncryptionKey: f.key})
			p.Environment = map[string]string{"1BAD": "x", "JWT_SECRET": "y"}
			p.Secrets = []fargateservice.ContainerSecret{
				{EnvName: "JWT_SECRET", Secret: s, JSONKey: "jwt_secret"},
				{EnvName: "bad-name", Secret: nil, JSONKey: "a:b"},
			}
		}, []string{"Environment: \"1BAD\" is not a valid variable name", "Secrets[0].EnvName: \"JWT_SECRET\" is already set by Environment",
			"Secrets[1].EnvName: \"bad-name\" is not a valid variable name", "Secrets[1].Secret: is required",
			"Secrets[1].JSONKey: \"a:b\" must not contain ':'"}},
		{"retention", func(f fixture, p *fargateservice.Props) { p.LogRetentionDays = 10 }, []string{"LogRetentionDays: 10 is not a retention"}},
		{"scaling", func(f fixture, p *fargateservice.Props) { p.DesiredCount, p.MinCapacity, p.MaxCapacity = 5, 2, 1 },
			[]string{"MaxCapacity: 1 is below MinCapacity 2"}},
		{"desired outside", func(f fixture, p *fargateservice.Props) { p.DesiredCount, p.MinCapacity, p.MaxCapacity = 5, 2, 4 },
			[]string{"DesiredCount: 5 must be between MinCapacity 2 and MaxCapacity 4"}},
		{"bad min", func(f fixture, p *fargateservice.Props) { p.MinCapacity = -1 },
			[]string{"MinCapacity: must be at least 1, got -1"}},
		{"negatives", func(f fixture, p *fargateservice.Props) {
			p.DesiredCount, p.CPUTargetPercent, p.RequestsPerTarget, p.LatencyP95Seconds, p.Error5xxRatePercent, p.MinRunningTasks = -1, 150, -1, -1, 101, -1
		}, []string{"DesiredCount: must be at least 1, got -1", "CPUTargetPercent: must be in (0, 100], got 150", "RequestsPerTarget: must be positive",
			"LatencyP95Seconds: must be positive", "Error5xxRatePercent: must be in (0, 100], got 101", "MinRunningTasks: must be at least 1, got -1"}},
		{"topics", func(f fixture, p *fargateservice.Props) { p.AlarmTopicArns = []string{"ops"} }, []string{"AlarmTopicArns[0]: \"ops\" is not an SNS topic ARN"}},
		{"rate limit", func(f fixture, p *fargateservice.Props) { p.RateLimitPer5Minutes = 5 }, []string{"RateLimitPer5Minutes: must be between 10 and 2000000000, got 5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := baseProps(f.key)
			tc.mutate(f, p)
			fargateservice.New(f.stack, "Svc", p)
			errs := synthtest.ValidationErrors(t, f.stack)
			for _, want := range tc.want {
				found := false
				for _, e := range errs {
					if strings.Contains(e, "] "+want) && strings.Contains(e, "[test/Svc") {
						found = true
					}
				}
				assert.True(t, found, "want %q among:\n%s", want, strings.Join(errs, "\n"))
			}
			assert.Len(t, errs, len(tc.want), "exactly the expected violations:\n%s", strings.Join(errs, "\n"))
		})
	}
}

func TestValidateImageURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/registry@sha256:" + digest: true,
		"localhost:5000/a/b@sha256:" + digest:                                    true,
		"public.ecr.aws/a/b:1.0":                                                 false,
		"public.ecr.aws/a/b@sha256:" + strings.ToUpper(digest):                   false,
		"public.ecr.aws/a/b:1.0@sha256:" + digest:                                false,
		"b@sha256:" + digest:                                                     false,
	} {
		assert.Equal(t, ok, fargateservice.ValidateImageURI(uri) == nil, uri)
	}
	img := fargateservice.ImageFromDigestURI("x")
	img.GrantPull(nil) // grants nothing, needs nothing
	assert.Equal(t, "x", *img.ImageURI())
}
