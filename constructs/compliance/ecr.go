package compliance

// ECR rules.
const (
	RuleECRScanOnPush      = "ecr-scan-on-push"
	RuleECRImmutableTags   = "ecr-immutable-tags"
	RuleECRLifecyclePolicy = "ecr-lifecycle-policy"
)

// repositories checks that every repository scans images on push, keeps tags immutable
// and has a lifecycle policy.
func (c *checker) repositories() {
	policies := c.referencing("aws_ecr_lifecycle_policy", "repository", "aws_ecr_repository")
	for _, name := range c.resources("aws_ecr_repository") {
		addr := "aws_ecr_repository." + name
		r := c.t.Resource["aws_ecr_repository"][name]
		if !anyOf(blocks(r["image_scanning_configuration"]), func(s map[string]any) bool { return s["scan_on_push"] == true }) {
			c.add(addr, RuleECRScanOnPush, "images are not scanned on push")
		}
		if r["image_tag_mutability"] != "IMMUTABLE" {
			c.add(addr, RuleECRImmutableTags, "image_tag_mutability is not IMMUTABLE")
		}
		byName := anyOf(c.bodies("aws_ecr_lifecycle_policy"), func(l map[string]any) bool {
			return l["repository"] != nil && l["repository"] == r["name"]
		})
		if len(policies[name]) == 0 && !byName {
			c.add(addr, RuleECRLifecyclePolicy, "no lifecycle policy (aws_ecr_lifecycle_policy): old images are kept forever")
		}
	}
}
