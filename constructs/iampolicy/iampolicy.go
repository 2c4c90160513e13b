// Package iampolicy builds IAM policy documents from typed Go statements. Every construct
// in this module writes its policies through it, so no policy is ever string-built JSON:
// statements become an aws_iam_policy_document data source that Terraform renders.
//
//	doc := iampolicy.NewDocument(scope, "ReadPolicy", iampolicy.Statement{
//		Sid:       "ReadArtifacts",
//		Actions:   []string{"s3:GetObject"},
//		Resources: []string{*bucketArn + "/packages/*"},
//	})
//	_ = doc.JSON() // a token resolving to the rendered policy
package iampolicy

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/dataawsiampolicydocument"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrolepolicy"
)

// Effect is Allow or Deny.
type Effect string

const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Condition is one IAM condition: Test (StringEquals, ArnLike, Bool, ...) applied to
// Variable (aws:SourceArn, kms:ViaService, ...) with Values.
type Condition struct {
	Test     string
	Variable string
	Values   []string
}

// Principal is a principal block: Type is AWS, Service or "*"-style AWS with "*" identifiers.
type Principal struct {
	Type        string
	Identifiers []string
}

// ServicePrincipal names an AWS service principal such as cloudtrail.amazonaws.com.
func ServicePrincipal(service string) Principal {
	return Principal{Type: "Service", Identifiers: []string{service}}
}

// AWSPrincipal names IAM principals by ARN.
func AWSPrincipal(arns ...string) Principal { return Principal{Type: "AWS", Identifiers: arns} }

// Everyone is the anonymous principal; use it only in Deny statements.
func Everyone() Principal { return Principal{Type: "*", Identifiers: []string{"*"}} }

// FederatedPrincipal names an identity provider, e.g. an IAM OIDC provider's ARN, for
// trust policies allowing sts:AssumeRoleWithWebIdentity.
func FederatedPrincipal(providerArn string) Principal {
	return Principal{Type: "Federated", Identifiers: []string{providerArn}}
}

// Statement is one typed policy statement. Effect defaults to Allow.
type Statement struct {
	Sid     string
	Effect  Effect
	Actions []string
	// NotActions matches every action but these; only for Deny statements (an Allow with
	// NotAction grants everything else, which the compliance aspect refuses).
	NotActions []string
	Resources  []string
	Principals []Principal
	Conditions []Condition
}

// StringEquals is a shorthand for the most common condition.
func StringEquals(variable string, values ...string) Condition {
	return Condition{Test: "StringEquals", Variable: variable, Values: values}
}

// ArnLike is a shorthand for an ARN pattern condition.
func ArnLike(variable string, values ...string) Condition {
	return Condition{Test: "ArnLike", Variable: variable, Values: values}
}

func (s Statement) toData() *dataawsiampolicydocument.DataAwsIamPolicyDocumentStatement {
	effect := s.Effect
	if effect == "" {
		effect = Allow
	}
	out := &dataawsiampolicydocument.DataAwsIamPolicyDocumentStatement{Effect: jsii.String(string(effect))}
	if len(s.Actions) > 0 {
		out.Actions = jsii.Strings(s.Actions...)
	}
	if len(s.NotActions) > 0 {
		out.NotActions = jsii.Strings(s.NotActions...)
	}
	if s.Sid != "" {
		out.Sid = jsii.String(s.Sid)
	}
	if len(s.Resources) > 0 {
		out.Resources = jsii.Strings(s.Resources...)
	}
	if len(s.Principals) > 0 {
		ps := make([]*dataawsiampolicydocument.DataAwsIamPolicyDocumentStatementPrincipals, 0, len(s.Principals))
		for _, p := range s.Principals {
			ps = append(ps, &dataawsiampolicydocument.DataAwsIamPolicyDocumentStatementPrincipals{
				Type: jsii.String(p.Type), Identifiers: jsii.Strings(p.Identifiers...),
			})
		}
		out.Principals = &ps
	}
	if len(s.Conditions) > 0 {
		cs := make([]*dataawsiampolicydocument.DataAwsIamPolicyDocumentStatementCondition, 0, len(s.Conditions))
		for _, c := range s.Conditions {
			cs = append(cs, &dataawsiampolicydocument.DataAwsIamPolicyDocumentStatementCondition{
				Test: jsii.String(c.Test), Variable: jsii.String(c.Variable), Values: jsii.Strings(c.Values...),
			})
		}
		out.Condition = &cs
	}
	return out
}

// Document is a policy document that statements can still be added to until synth.
type Document struct {
	data       dataawsiampolicydocument.DataAwsIamPolicyDocument
	statements []Statement
}

// NewDocument creates the aws_iam_policy_document data source holding statements.
func NewDocument(scope constructs.Construct, id string, statements ...Statement) *Document {
	d := &Document{data: dataawsiampolicydocument.NewDataAwsIamPolicyDocument(scope, jsii.String(id),
		&dataawsiampolicydocument.DataAwsIamPolicyDocumentConfig{})}
	d.Add(statements...)
	return d
}

// Add appends statements; a statement whose Sid is already present replaces it, so
// constructs can call Add idempotently.
func (d *Document) Add(statements ...Statement) {
	for _, s := range statements {
		if i := slices.IndexFunc(d.statements, func(o Statement) bool { return s.Sid != "" && o.Sid == s.Sid }); i >= 0 {
			d.statements[i] = s
			continue
		}
		d.statements = append(d.statements, s)
	}
	data := make([]*dataawsiampolicydocument.DataAwsIamPolicyDocumentStatement, 0, len(d.statements))
	for _, s := range d.statements {
		data = append(data, s.toData())
	}
	d.data.PutStatement(&data)
}

// Statements returns a copy of the statements added so far.
func (d *Document) Statements() []Statement { return slices.Clone(d.statements) }

// JSON is a token for the rendered policy document.
func (d *Document) JSON() *string { return d.data.Json() }

// Role is anything a policy can be attached to by name: a managed iamrole.IamRole or an
// imported dataawsiamrole.DataAwsIamRole.
type Role interface {
	constructs.IConstruct
	Name() *string
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

// GrantID names the n-th grant of kind a construct hands to role, e.g. "GrantReadTaskRole2",
// so grants from several constructs and calls never collide.
func GrantID(kind string, role Role, n int) string {
	return fmt.Sprintf("Grant%s%s%d", kind, nonAlnum.ReplaceAllString(*role.Node().Id(), ""), n)
}

// Grant attaches statements to role as an inline policy created under scope, named after
// id so grants from several constructs never collide.
func Grant(scope constructs.Construct, id string, role Role, statements ...Statement) iamrolepolicy.IamRolePolicy {
	if role == nil {
		panic(fmt.Sprintf("iampolicy.Grant(%s): role is nil", id))
	}
	doc := NewDocument(scope, id+"Document", statements...)
	return iamrolepolicy.NewIamRolePolicy(scope, jsii.String(id), &iamrolepolicy.IamRolePolicyConfig{
		Role:       role.Name(),
		NamePrefix: jsii.String(id + "-"),
		Policy:     doc.JSON(),
	})
}

// ServiceRole describes a role that one AWS service assumes.
type ServiceRole struct {
	// Name and Description of the role.
	Name, Description string
	// Service is the principal allowed to assume it, e.g. "ecs-tasks.amazonaws.com".
	Service string
	// TrustSid names the trust statement.
	TrustSid string
	// Conditions scope the trust (aws:SourceArn, aws:SourceAccount, ...).
	Conditions []Condition
}

// NewServiceRole creates a role only r.Service may assume, under r.Conditions, with a
// typed trust policy document named id+"Trust". It has no permissions until granted.
func NewServiceRole(scope constructs.Construct, id string, r ServiceRole) iamrole.IamRole {
	trust := NewDocument(scope, id+"Trust", Statement{
		Sid:        r.TrustSid,
		Principals: []Principal{ServicePrincipal(r.Service)},
		Actions:    []string{"sts:AssumeRole"},
		Conditions: r.Conditions,
	})
	return iamrole.NewIamRole(scope, jsii.String(id), &iamrole.IamRoleConfig{
		Name:             jsii.String(r.Name),
		Description:      jsii.String(r.Description),
		AssumeRolePolicy: trust.JSON(),
	})
}
