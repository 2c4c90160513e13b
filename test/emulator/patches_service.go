package emulator

// Patches for the gaps the Fargate service meets; registered here, in their own file,
// so the list in emulator.go stays one line per existing patch.
const (
	// PatchECSCreateServiceSettings makes CreateService keep the deployment
	// configuration (circuit breaker, minimum healthy and maximum percent), the health
	// check grace period, ECS managed tags and Availability Zone rebalancing.
	PatchECSCreateServiceSettings = "ecs-create-service-settings"
	// PatchEC2RuleDescriptions keeps the description of security group rules whose
	// peer is a security group or a prefix list.
	PatchEC2RuleDescriptions = "ec2-rule-descriptions"
	// PatchELBv2DefaultScheme makes a load balancer created without a scheme
	// internet-facing, as on AWS.
	PatchELBv2DefaultScheme = "elbv2-default-scheme"
	// PatchCloudWatchCBOR serves CloudWatch in the Smithy RPC v2 CBOR protocol, the
	// only one the current Go SDK's client speaks.
	PatchCloudWatchCBOR = "cloudwatch-cbor"
)

func init() {
	Patches = append(Patches, PatchECSCreateServiceSettings, PatchEC2RuleDescriptions, PatchELBv2DefaultScheme, PatchCloudWatchCBOR)
}
