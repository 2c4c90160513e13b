package compliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Rules checked by Check besides the IAM rules.
const (
	RuleS3KMS             = "s3-sse-kms-project-key"
	RuleS3PublicAccess    = "s3-public-access-blocked"
	RuleS3Versioning      = "s3-versioned"
	RuleS3TLSOnly         = "s3-tls-only"
	RuleS3OwnerEnforced   = "s3-owner-enforced"
	RuleDynamoDBKMS       = "dynamodb-sse-project-key"
	RuleLogsKMS           = "logs-project-key"
	RuleLogsRetention     = "logs-retention"
	RuleSecretsKMS        = "secrets-project-key"
	RuleECRKMS            = "ecr-project-key"
	RuleContainerReadOnly = "container-read-only-root"
	RuleContainerNonRoot  = "container-non-root"
	RuleContainerDigest   = "container-image-digest"
	RuleServiceNoPublicIP = "ecs-no-public-ip"
	RuleContainerReadable = "container-definitions-readable"
)

// Waiver exempts one Terraform address (or every address starting with it) from one
// rule. Why is mandatory: an exception nobody can explain is an error, so Check (and
// synth, through the aspect) fails naming the waiver instead of ignoring it.
type Waiver struct {
	Address string
	Rule    string
	Why     string
}

// Validate reports a waiver that states no reason.
func (w Waiver) Validate() error {
	if strings.TrimSpace(w.Why) == "" {
		return fmt.Errorf("compliance: waiver of rule %s for %s has no reason: set Why to say why the exception is safe", w.Rule, w.Address)
	}
	return nil
}

// Options tunes Check.
type Options struct {
	// ProjectKeyArns are key ARNs, besides the stack's own aws_kms_key resources, that
	// count as the project key (a key imported with encryptionkey.FromKeyArn). Default: none.
	ProjectKeyArns []string
	// Waivers exempt named addresses from named rules. Default: none.
	Waivers []Waiver
}

type stackTree struct {
	Resource map[string]map[string]map[string]any `json:"resource"`
	Data     map[string]map[string]map[string]any `json:"data"`
}

// Check reports every violation of the project's security invariants in a synthesized
// stack (cdk.tf.json): data at rest under the project key (S3, DynamoDB, CloudWatch Logs,
// Secrets Manager, ECR), buckets versioned, TLS-only, owner-enforced and with public
// access blocked, log groups with retention, IAM without wildcards outside the named
// exceptions, containers with a read-only root, a non-root user and an image pinned by
// digest, and ECS services without public IPs; and the Security Hub FSBP controls each
// rule carries (Controls): S3 logging, notifications and lifecycles, the trail's
// settings, key rotation and decrypt grants, tables, ECS, load balancers, web ACLs, VPCs
// and ECR repositories. Violations come back sorted, all at once.
// A waiver without a reason is an error, one line per such waiver.
func Check(stackJSON []byte, opts Options) ([]Violation, error) {
	var invalid []error
	for _, w := range opts.Waivers {
		invalid = append(invalid, w.Validate())
	}
	if err := errors.Join(invalid...); err != nil {
		return nil, err
	}
	var t stackTree
	if err := json.Unmarshal(stackJSON, &t); err != nil {
		return nil, fmt.Errorf("compliance: stack is not valid JSON: %w", err)
	}
	iam, err := CheckIAMWildcards(stackJSON)
	if err != nil {
		return nil, err
	}
	c := &checker{t: t, opts: opts}
	c.out = append(c.out, iam...)
	c.buckets()
	c.encryptedAtRest()
	c.logGroups()
	c.containers()
	c.identities()
	c.s3Buckets()
	c.trails()
	c.keys()
	c.tables()
	c.services()
	c.repositories()
	c.loadBalancers()
	c.webACLs()
	c.networks()

	var out []Violation
	for _, v := range c.out {
		if !waived(v, opts.Waivers) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Address != out[j].Address {
			return out[i].Address < out[j].Address
		}
		return out[i].Rule < out[j].Rule
	})
	return out, nil
}

func waived(v Violation, ws []Waiver) bool {
	for _, w := range ws {
		if w.Rule == v.Rule && strings.HasPrefix(v.Address, w.Address) {
			return true
		}
	}
	return false
}

type checker struct {
	t    stackTree
	opts Options
	out  []Violation
}

// add records a violation; the detail names the FSBP controls the rule implements.
func (c *checker) add(addr, rule, format string, a ...any) {
	detail := fmt.Sprintf(format, a...)
	if controls := ruleControls[rule]; len(controls) > 0 {
		detail += " (FSBP " + strings.Join(controls, ", ") + ")"
	}
	c.out = append(c.out, Violation{Address: addr, Rule: rule, Detail: detail})
}

// resources returns the names of every resource of typ, sorted.
func (c *checker) resources(typ string) []string { return sortedKeys(c.t.Resource[typ]) }

func (c *checker) attr(typ, name, key string) any { return c.t.Resource[typ][name][key] }

// refPattern matches a whole-value reference such as ${aws_s3_bucket.Logs.id}.
var refPattern = regexp.MustCompile(`^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}$`)

// referenced returns the name of the resource of typ that v refers to, if v is exactly
// such a reference.
func referenced(v any, typ string) (string, bool) {
	s, _ := v.(string)
	m := refPattern.FindStringSubmatch(s)
	if m == nil || m[1] != typ {
		return "", false
	}
	return m[2], true
}

// attachedTo maps each resource of typ whose "bucket" attribute references an
// aws_s3_bucket to that bucket's name.
func (c *checker) attachedTo(typ string) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, name := range c.resources(typ) {
		body := c.t.Resource[typ][name]
		if b, ok := referenced(body["bucket"], "aws_s3_bucket"); ok {
			out[b] = append(out[b], body)
		}
	}
	return out
}

// projectKey reports whether v names the project key: a reference to an aws_kms_key of
// this stack or one of the configured key ARNs.
func (c *checker) projectKey(v any) bool {
	if _, ok := referenced(v, "aws_kms_key"); ok {
		return true
	}
	s, _ := v.(string)
	return s != "" && slices.Contains(c.opts.ProjectKeyArns, s)
}

func (c *checker) buckets() {
	sse := c.attachedTo("aws_s3_bucket_server_side_encryption_configuration")
	pab := c.attachedTo("aws_s3_bucket_public_access_block")
	ver := c.attachedTo("aws_s3_bucket_versioning")
	own := c.attachedTo("aws_s3_bucket_ownership_controls")
	pol := c.attachedTo("aws_s3_bucket_policy")
	serverTargets, loadBalancerTargets := c.logTargets()
	for _, name := range c.resources("aws_s3_bucket") {
		addr := "aws_s3_bucket." + name
		defaultIs := func(ok func(d map[string]any) bool) bool {
			return anyOf(sse[name], func(b map[string]any) bool {
				return anyOf(blocks(b["rule"]), func(r map[string]any) bool {
					return anyOf(blocks(r["apply_server_side_encryption_by_default"]), ok)
				})
			})
		}
		projectKMS := defaultIs(func(d map[string]any) bool {
			return d["sse_algorithm"] == "aws:kms" && c.projectKey(d["kms_master_key_id"])
		})
		// AccessLogTargetEncryption: log targets may, and must, use SSE-S3.
		logTargetSSES3 := (serverTargets[name] || loadBalancerTargets[name]) &&
			defaultIs(func(d map[string]any) bool { return d["sse_algorithm"] == "AES256" })
		if !projectKMS && !logTargetSSES3 {
			c.add(addr, RuleS3KMS, "default encryption is not SSE-KMS under the project key")
		}
		if !anyOf(pab[name], func(b map[string]any) bool {
			return b["block_public_acls"] == true && b["block_public_policy"] == true &&
				b["ignore_public_acls"] == true && b["restrict_public_buckets"] == true
		}) {
			c.add(addr, RuleS3PublicAccess, "not all four public-access blocks are on")
		}
		if !anyOf(ver[name], func(b map[string]any) bool {
			return anyOf(blocks(b["versioning_configuration"]), func(v map[string]any) bool { return v["status"] == "Enabled" })
		}) {
			c.add(addr, RuleS3Versioning, "versioning is not enabled")
		}
		if !anyOf(own[name], func(b map[string]any) bool {
			return anyOf(blocks(b["rule"]), func(r map[string]any) bool { return r["object_ownership"] == "BucketOwnerEnforced" })
		}) {
			c.add(addr, RuleS3OwnerEnforced, "object ownership is not BucketOwnerEnforced (ACLs stay active)")
		}
		if !anyOf(pol[name], c.deniesInsecureTransport) {
			c.add(addr, RuleS3TLSOnly, "no bucket policy statement denies requests without TLS (aws:SecureTransport false)")
		}
	}
}

// deniesInsecureTransport reports whether a bucket policy holds a Deny conditioned on
// aws:SecureTransport = false.
func (c *checker) deniesInsecureTransport(policy map[string]any) bool {
	s, _ := policy["policy"].(string)
	m := docRef.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	doc := c.t.Data["aws_iam_policy_document"][m[1]]
	return anyOf(blocks(doc["statement"]), func(st map[string]any) bool {
		if st["effect"] != "Deny" {
			return false
		}
		return anyOf(blocks(st["condition"]), func(cond map[string]any) bool {
			return cond["test"] == "Bool" && cond["variable"] == "aws:SecureTransport" && slices.Contains(strs(cond["values"]), "false")
		})
	})
}

func (c *checker) encryptedAtRest() {
	for _, name := range c.resources("aws_dynamodb_table") {
		ok := anyOf(blocks(c.attr("aws_dynamodb_table", name, "server_side_encryption")), func(s map[string]any) bool {
			return s["enabled"] == true && c.projectKey(s["kms_key_arn"])
		})
		if !ok {
			c.add("aws_dynamodb_table."+name, RuleDynamoDBKMS, "server-side encryption is not under the project key")
		}
	}
	for _, name := range c.resources("aws_secretsmanager_secret") {
		if !c.projectKey(c.attr("aws_secretsmanager_secret", name, "kms_key_id")) {
			c.add("aws_secretsmanager_secret."+name, RuleSecretsKMS, "kms_key_id is not the project key (the default is the AWS-managed key)")
		}
	}
	for _, name := range c.resources("aws_ecr_repository") {
		ok := anyOf(blocks(c.attr("aws_ecr_repository", name, "encryption_configuration")), func(e map[string]any) bool {
			return e["encryption_type"] == "KMS" && c.projectKey(e["kms_key"])
		})
		if !ok {
			c.add("aws_ecr_repository."+name, RuleECRKMS, "images are not encrypted with the project key")
		}
	}
}

func (c *checker) logGroups() {
	for _, name := range c.resources("aws_cloudwatch_log_group") {
		addr := "aws_cloudwatch_log_group." + name
		if !c.projectKey(c.attr("aws_cloudwatch_log_group", name, "kms_key_id")) {
			c.add(addr, RuleLogsKMS, "kms_key_id is not the project key")
		}
		if days, _ := c.attr("aws_cloudwatch_log_group", name, "retention_in_days").(float64); days <= 0 {
			c.add(addr, RuleLogsRetention, "no retention_in_days: logs would be kept forever")
		}
	}
}

var digestPinned = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

func (c *checker) containers() {
	for _, name := range c.resources("aws_ecs_task_definition") {
		addr := "aws_ecs_task_definition." + name
		raw, _ := c.attr("aws_ecs_task_definition", name, "container_definitions").(string)
		var defs []map[string]any
		if err := json.Unmarshal([]byte(raw), &defs); err != nil {
			c.add(addr, RuleContainerReadable, "container_definitions is not literal JSON, so it cannot be checked: %v", err)
			continue
		}
		for _, d := range defs {
			where := fmt.Sprintf("%s container %v", addr, d["name"])
			if d["readonlyRootFilesystem"] != true {
				c.add(where, RuleContainerReadOnly, "readonlyRootFilesystem is not true")
			}
			if u, _ := d["user"].(string); !nonRoot(u) {
				c.add(where, RuleContainerNonRoot, "user %q is root or unset (the image's default may be root)", u)
			}
			if img, _ := d["image"].(string); !digestPinned.MatchString(c.followPush(img)) {
				c.add(where, RuleContainerDigest, "image %q is not pinned by digest (@sha256:...)", img)
			}
			c.containerSettings(where, d)
		}
	}
	for _, name := range c.resources("aws_ecs_service") {
		for _, n := range blocks(c.attr("aws_ecs_service", name, "network_configuration")) {
			if n["assign_public_ip"] == true {
				c.add("aws_ecs_service."+name, RuleServiceNoPublicIP, "assign_public_ip is true")
			}
		}
	}
}

// followPush resolves an image given as the output of a terraform_data resource (the
// push step of constructs/containerimage) to that resource's input, where the digest is.
func (c *checker) followPush(image string) string {
	if n, ok := referenced(image, "terraform_data"); ok {
		if in, ok := c.t.Resource["terraform_data"][n]["input"].(string); ok {
			return in
		}
	}
	return image
}

func nonRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u != "" && u != "0" && u != "root"
}

func blocks(v any) []map[string]any { return NestedBlocks(v) }

// NestedBlocks returns a nested block of a synthesized stack as a list: cdktf writes
// single blocks as objects and repeated ones as arrays. Tools reading stacks use it too.
func NestedBlocks(v any) []map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{x}
	case []any:
		var out []map[string]any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func anyOf(list []map[string]any, ok func(map[string]any) bool) bool {
	return slices.ContainsFunc(list, ok)
}
