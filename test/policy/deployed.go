package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Deployment names what to read back from a deployed stack.
type Deployment struct {
	Partition string
	// Roles are the names of the roles whose identity and trust policies decide calls.
	Roles []string
	// Keys are the KMS key ARNs whose key policies decide calls.
	Keys []string
	// Buckets are the buckets whose policies decide calls on them and their objects.
	Buckets []string
}

// ReadBack reads the policies of d as deployed: every inline and attached policy of each
// role, each role's trust policy, each key policy and each bucket policy.
func ReadBack(ctx context.Context, cfg aws.Config, d Deployment) (Policies, error) {
	iamc := iam.NewFromConfig(cfg)
	identity := map[string][]NamedPolicy{}
	resources := map[string]Document{}
	for _, role := range d.Roles {
		r, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: &role})
		if err != nil {
			return Policies{}, fmt.Errorf("role %s: %w", role, err)
		}
		arn := aws.ToString(r.Role.Arn)
		if resources[arn], err = decode(aws.ToString(r.Role.AssumeRolePolicyDocument)); err != nil {
			return Policies{}, fmt.Errorf("trust policy of %s: %w", role, err)
		}
		names, err := iamc.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &role})
		if err != nil {
			return Policies{}, fmt.Errorf("policies of %s: %w", role, err)
		}
		for _, name := range names.PolicyNames {
			p, err := iamc.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &role, PolicyName: &name})
			if err != nil {
				return Policies{}, fmt.Errorf("policy %s of %s: %w", name, role, err)
			}
			doc, err := decode(aws.ToString(p.PolicyDocument))
			if err != nil {
				return Policies{}, fmt.Errorf("policy %s of %s: %w", name, role, err)
			}
			identity[arn] = append(identity[arn], NamedPolicy{Name: name, Policy: doc})
		}
		attached, err := iamc.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
		if err != nil {
			return Policies{}, fmt.Errorf("attached policies of %s: %w", role, err)
		}
		for _, a := range attached.AttachedPolicies {
			pol, err := iamc.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: a.PolicyArn})
			if err != nil {
				return Policies{}, err
			}
			v, err := iamc.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: a.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
			if err != nil {
				return Policies{}, err
			}
			doc, err := decode(aws.ToString(v.PolicyVersion.Document))
			if err != nil {
				return Policies{}, err
			}
			identity[arn] = append(identity[arn], NamedPolicy{Name: aws.ToString(a.PolicyName), Policy: doc})
		}
	}
	kmsc := kms.NewFromConfig(cfg)
	for _, key := range d.Keys {
		p, err := kmsc.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: &key, PolicyName: aws.String("default")})
		if err != nil {
			return Policies{}, fmt.Errorf("key policy of %s: %w", key, err)
		}
		resources[key] = Document(aws.ToString(p.Policy))
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	buckets := map[string]Document{}
	for _, b := range d.Buckets {
		p, err := s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &b})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucketPolicy" {
			continue
		}
		if err != nil {
			return Policies{}, fmt.Errorf("policy of bucket %s: %w", b, err)
		}
		buckets[b] = Document(aws.ToString(p.Policy))
	}
	prefix := "arn:" + d.Partition + ":s3:::"
	return Policies{Identity: identity, Resource: func(resource string) Document {
		if doc, ok := resources[resource]; ok {
			return doc
		}
		if rest, ok := strings.CutPrefix(resource, prefix); ok {
			bucket, _, _ := strings.Cut(rest, "/")
			return buckets[bucket]
		}
		return nil
	}}, nil
}

// decode returns a policy document IAM returned, which it URL-encodes.
func decode(doc string) (Document, error) {
	if dec, err := url.QueryUnescape(doc); err == nil && json.Valid([]byte(dec)) {
		doc = dec
	}
	if !json.Valid([]byte(doc)) {
		return nil, fmt.Errorf("not a JSON policy document: %.80s", doc)
	}
	return Document(doc), nil
}
