package compliance

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// KMS rules.
const (
	RuleKMSNoDecryptAllKeys = "kms-no-decrypt-on-all-keys"
	RuleKMSRotation         = "kms-key-rotation"
)

// decryptActions let a principal read what a key protects.
var decryptActions = []string{"kms:Decrypt", "kms:ReEncryptFrom"}

// allKeys matches resources naming every key (or every key of an account or region).
var allKeys = regexp.MustCompile(`^(\*|arn:[^:]*:kms:[^:]*:[^:]*:(key|alias)/\*)$`)

// identityPolicyTypes are the resources attaching a policy to a principal.
var identityPolicyTypes = []string{"aws_iam_role_policy", "aws_iam_policy"}

// keys checks that no identity policy lets anyone decrypt with every key, and that
// every symmetric key rotates.
func (c *checker) keys() {
	for _, typ := range identityPolicyTypes {
		for _, name := range c.resources(typ) {
			raw, _ := c.attr(typ, name, "policy").(string)
			addr := typ + "." + name
			sts, ok := parseLiteral(raw)
			if m := docRef.FindStringSubmatch(raw); m != nil {
				addr, sts, ok = "data.aws_iam_policy_document."+m[1], dataStatements(c.t.Data["aws_iam_policy_document"][m[1]]), true
			}
			if !ok {
				continue
			}
			for i, s := range sts {
				if s.Effect != "" && s.Effect != "Allow" {
					continue
				}
				if a := grantsDecrypt(s.Actions); a != "" && slices.ContainsFunc(s.Resources, allKeys.MatchString) {
					c.add(fmt.Sprintf("%s statement %d", addr, i), RuleKMSNoDecryptAllKeys, "allows %s on all KMS keys; name the keys", a)
				}
			}
		}
	}
	for _, name := range c.resources("aws_kms_key") {
		k := c.t.Resource["aws_kms_key"][name]
		spec, _ := k["customer_master_key_spec"].(string)
		usage, _ := k["key_usage"].(string)
		symmetric := (spec == "" || spec == "SYMMETRIC_DEFAULT") && (usage == "" || usage == "ENCRYPT_DECRYPT")
		if symmetric && k["enable_key_rotation"] != true {
			c.add("aws_kms_key."+name, RuleKMSRotation, "enable_key_rotation is not true")
		}
	}
}

// grantsDecrypt returns the first action that grants a decrypt action, wildcards
// included, or "".
func grantsDecrypt(actions []string) string {
	wildcards := strings.NewReplacer(`\*`, ".*", `\?`, ".")
	for _, a := range actions {
		pattern := regexp.MustCompile("(?i)^" + wildcards.Replace(regexp.QuoteMeta(a)) + "$")
		if slices.ContainsFunc(decryptActions, pattern.MatchString) {
			return a
		}
	}
	return ""
}
