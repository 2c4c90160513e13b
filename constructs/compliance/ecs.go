package compliance

import "slices"

// ECS rules beyond read-only roots, non-root users, digests and public IPs (rules.go).
const (
	RuleContainerNotPrivileged  = "container-not-privileged"
	RuleContainerNoSecretEnv    = "container-no-credentials-in-environment"
	RuleContainerLogging        = "container-logging"
	RuleServiceLatestPlatform   = "ecs-fargate-latest-platform"
	RuleClusterContainerInsight = "ecs-container-insights"
)

// credentialVariables are the environment variables that hold credentials: they belong
// in "secrets" (valueFrom Secrets Manager), never in plain "environment".
var credentialVariables = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECS_ENGINE_AUTH_DATA"}

// containerSettings checks one container definition: not privileged, no credentials in
// its plain environment, and a log configuration.
func (c *checker) containerSettings(where string, d map[string]any) {
	if d["privileged"] == true {
		c.add(where, RuleContainerNotPrivileged, "privileged is true")
	}
	envs, _ := d["environment"].([]any)
	for _, e := range envs {
		kv, _ := e.(map[string]any)
		if name, _ := kv["name"].(string); slices.Contains(credentialVariables, name) {
			c.add(where, RuleContainerNoSecretEnv, "%s is a plain environment variable; pass it as a secret (valueFrom)", name)
		}
	}
	logs, _ := d["logConfiguration"].(map[string]any)
	if driver, _ := logs["logDriver"].(string); driver == "" {
		c.add(where, RuleContainerLogging, "no logConfiguration.logDriver: the container's output is lost")
	}
}

// services checks that Fargate services run the latest platform version and clusters
// record Container Insights.
func (c *checker) services() {
	for _, name := range c.resources("aws_ecs_service") {
		s := c.t.Resource["aws_ecs_service"][name]
		if s["launch_type"] != "FARGATE" {
			continue
		}
		if v, _ := s["platform_version"].(string); v != "" && v != "LATEST" {
			c.add("aws_ecs_service."+name, RuleServiceLatestPlatform, "platform_version %q is pinned; use LATEST", v)
		}
	}
	for _, name := range c.resources("aws_ecs_cluster") {
		if !anyOf(blocks(c.attr("aws_ecs_cluster", name, "setting")), func(s map[string]any) bool {
			return s["name"] == "containerInsights" && (s["value"] == "enabled" || s["value"] == "enhanced")
		}) {
			c.add("aws_ecs_cluster."+name, RuleClusterContainerInsight, "Container Insights is not enabled")
		}
	}
}
