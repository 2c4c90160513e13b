package emulator

// Patches for the gaps the Fargate service meets; registered here, in their own file,
// so the list in emulator.go stays one line per existing patch.
const (
	// PatchECSDeploymentConfiguration makes CreateService keep the deployment
	// configuration (circuit breaker, minimum healthy and maximum percent).
	PatchECSDeploymentConfiguration = "ecs-deployment-configuration"
	// PatchELBv2DefaultScheme makes a load balancer created without a scheme
	// internet-facing, as on AWS.
	PatchELBv2DefaultScheme = "elbv2-default-scheme"
)

func init() {
	Patches = append(Patches, PatchECSDeploymentConfiguration, PatchELBv2DefaultScheme)
}
