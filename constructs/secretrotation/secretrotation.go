// Package secretrotation turns on automatic rotation of a Secrets Manager secret
// (Security Hub SecretsManager.1 and SecretsManager.4): a Go rotation function on the
// provided.al2023 runtime, deployed from a zip built before synth (runtime/lambdabuild;
// New reads it, it never builds), with its own least-privilege role, its environment
// encrypted with the project key, its log group under the same key with a retention,
// the permission for Secrets Manager to invoke it for this secret only, and the rotation
// schedule (every 30 days by default, never less often).
//
//	zip := ".run/lambda/rotate-secret.zip" // lambdabuild.Build + Write, before synth
//	secretrotation.New(stack, "JwtRotation", &secretrotation.Props{
//		Secret: jwt, EncryptionKey: key, FunctionZip: zip,
//		Environment: map[string]string{"ROTATION_STRATEGY": "jwt"},
//	})
//
// The role may read and write only this secret (DescribeSecret, GetSecretValue,
// PutSecretValue, UpdateSecretVersionStage: the four rotation steps), use the secret's
// key only through Secrets Manager, and write only its own log group. Whatever else a
// strategy needs (the administrator rotation writes the users table) is granted to Role()
// by the caller, through that resource's own Grant methods.
//
// The deploying principal needs kms:CreateGrant on the key: Lambda creates a grant for
// the function's role to decrypt the environment.
package secretrotation

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchloggroup"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/lambdafunction"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/lambdapermission"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/secretsmanagersecretrotation"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/awsenv"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/grant"
	"github.com/acme/module-registry/constructs/internal/validation"
)

// Defaults.
const (
	DefaultRotationDays     = 30
	DefaultArchitecture     = "arm64"
	DefaultTimeoutSeconds   = 30
	DefaultMemoryMB         = 256
	DefaultLogRetentionDays = 90
	// MaxRotationDays is the longest schedule allowed: the project rotates every secret at
	// least monthly.
	MaxRotationDays = 30
	// Runtime is the Lambda runtime of a Go binary named bootstrap.
	Runtime = "provided.al2023"
	// Handler is the executable the runtime starts.
	Handler = "bootstrap"
	// FunctionNamePrefix starts the default function name.
	FunctionNamePrefix = "acme-rotate-"
)

// Actions the rotation function performs on its secret: the four rotation steps.
var Actions = []string{
	"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
	"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
}

// Architectures a function may run on (the Lambda names).
var Architectures = []string{"arm64", "x86_64"}

// Secret is the secret to rotate: jwtsecret.Secret and passwordsecret.Secret satisfy it.
type Secret interface {
	constructs.IConstruct
	SecretArn() *string
	EncryptionKey() encryptionkey.IKey
}

// Props configures a Rotation. Secret, EncryptionKey and FunctionZip are required; every
// other zero value is the secure default.
type Props struct {
	// Secret is the secret rotated. Required.
	Secret Secret
	// EncryptionKey encrypts the function's environment and its log group; the log
	// group's key policy statement is added to it. Required.
	EncryptionKey *encryptionkey.Key
	// FunctionZip is the deployment package: a zip holding an executable named bootstrap,
	// built before synth (runtime/lambdabuild). Read at synth for its hash. Required.
	FunctionZip string
	// FunctionName names the function (1-64 letters, digits, - and _).
	// Default: "acme-rotate-" followed by the construct id in lower case.
	FunctionName string
	// Environment is given to the function, e.g. the rotation strategy. It is written to
	// the synthesized configuration and encrypted at rest, so it holds names, never
	// secrets; AWS_* keys are reserved by Lambda. Default: none.
	Environment map[string]string
	// RotationDays is how often the secret rotates, 1-30. Default: 30.
	RotationDays int
	// Architecture is the function's, "arm64" or "x86_64"; it must match the binary.
	// Default: "arm64".
	Architecture string
	// TimeoutSeconds bounds one step, 1-900. Default: 30.
	TimeoutSeconds int
	// MemoryMB is the function's memory, 128-10240. Default: 256 (an argon2id hash takes
	// 19 MiB).
	MemoryMB int
	// LogRetentionDays is how long the function's log group keeps events; one of the
	// values CloudWatch Logs accepts. Default: 90.
	LogRetentionDays int
}

// Rotation is the rotation function, its role and log group, and the schedule.
type Rotation struct {
	constructs.Construct
	props    Props
	role     iamrole.IamRole
	function lambdafunction.LambdaFunction
	rotation secretsmanagersecretrotation.SecretsmanagerSecretRotation
	logGroup cloudwatchloggroup.CloudwatchLogGroup
	grants   *grant.Granter
	zipHash  string
	errs     validation.Errors
}

// New creates the rotation of p.Secret under scope.
func New(scope constructs.Construct, id string, props *Props) *Rotation {
	p := defaults.Copy(props)
	defaults.Set(&p.FunctionName, FunctionNamePrefix+strings.ToLower(nonName.ReplaceAllString(id, "-")))
	defaults.Set(&p.RotationDays, DefaultRotationDays)
	defaults.Set(&p.Architecture, DefaultArchitecture)
	defaults.Set(&p.TimeoutSeconds, DefaultTimeoutSeconds)
	defaults.Set(&p.MemoryMB, DefaultMemoryMB)
	defaults.Set(&p.LogRetentionDays, DefaultLogRetentionDays)
	r := &Rotation{props: p}
	constructs.NewConstruct_Override(r, scope, jsii.String(id))
	r.grants = grant.New(r)
	validation.Register(r, r.validate)
	env := awsenv.Of(r)

	zipPath := p.FunctionZip
	if abs, err := filepath.Abs(zipPath); err == nil && zipPath != "" {
		zipPath = abs
	}
	r.zipHash = r.readZip(zipPath)

	logGroupName := "/aws/lambda/" + p.FunctionName
	logGroupArn := "arn:" + *env.Partition + ":logs:" + *env.Region + ":" + *env.AccountID + ":log-group:" + logGroupName
	var keyArn *string
	if p.EncryptionKey != nil {
		keyArn = p.EncryptionKey.KeyArn()
		p.EncryptionKey.AllowLogGroup("CloudWatchLogsUse"+validation.PascalCase(p.FunctionName), logGroupArn)
	}
	r.logGroup = cloudwatchloggroup.NewCloudwatchLogGroup(r, jsii.String("LogGroup"), &cloudwatchloggroup.CloudwatchLogGroupConfig{
		Name:            jsii.String(logGroupName),
		RetentionInDays: jsii.Number(float64(p.LogRetentionDays)),
		KmsKeyId:        keyArn,
	})

	r.role = iampolicy.NewServiceRole(r, "Role", iampolicy.ServiceRole{
		Name:        p.FunctionName,
		Description: "Rotation function " + p.FunctionName + ": rotates one secret",
		Service:     "lambda.amazonaws.com",
		TrustSid:    "LambdaRunsTheRotationFunction",
	})
	logs := iampolicy.Grant(r, "WriteLogs", r.role, iampolicy.Statement{
		Sid:       "WriteOwnLogStreams",
		Actions:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: []string{logGroupArn + ":log-stream:*"},
	})
	// Without a secret synth fails on Secret; the placeholder keeps the tree buildable.
	secretArn := jsii.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:missing")
	dependsOn := []cdktf.ITerraformDependable{logs, r.logGroup}
	if p.Secret != nil {
		secretArn = p.Secret.SecretArn()
		rotate := iampolicy.Grant(r, "RotateSecret", r.role, iampolicy.Statement{
			Sid: "RotateThisSecret", Actions: Actions, Resources: []string{*secretArn},
		})
		dependsOn = append(dependsOn, rotate)
		if key := p.Secret.EncryptionKey(); key != nil {
			key.GrantEncryptDecrypt(r.role, "secretsmanager")
		}
	}

	cfg := &lambdafunction.LambdaFunctionConfig{
		FunctionName:   jsii.String(p.FunctionName),
		Description:    jsii.String("Rotates a Secrets Manager secret every " + fmt.Sprint(p.RotationDays) + " days"),
		Role:           r.role.Arn(),
		Runtime:        jsii.String(Runtime),
		Handler:        jsii.String(Handler),
		Architectures:  jsii.Strings(p.Architecture),
		Filename:       jsii.String(zipPath),
		SourceCodeHash: jsii.String(r.zipHash),
		Timeout:        jsii.Number(float64(p.TimeoutSeconds)),
		MemorySize:     jsii.Number(float64(p.MemoryMB)),
		KmsKeyArn:      keyArn,
		DependsOn:      &dependsOn,
	}
	if len(p.Environment) > 0 {
		vars := map[string]*string{}
		for k, v := range p.Environment {
			vars[k] = jsii.String(v)
		}
		cfg.Environment = &lambdafunction.LambdaFunctionEnvironment{Variables: &vars}
	}
	r.function = lambdafunction.NewLambdaFunction(r, jsii.String("Function"), cfg)

	// Secrets Manager invokes the function for this secret only (aws:SourceArn) and in
	// this account only (aws:SourceAccount).
	permission := lambdapermission.NewLambdaPermission(r, jsii.String("InvokeBySecretsManager"), &lambdapermission.LambdaPermissionConfig{
		StatementId:   jsii.String("SecretsManagerRotatesThisSecret"),
		Action:        jsii.String("lambda:InvokeFunction"),
		FunctionName:  r.function.FunctionName(),
		Principal:     jsii.String("secretsmanager.amazonaws.com"),
		SourceArn:     secretArn,
		SourceAccount: env.AccountID,
	})
	// The first rotation runs at once and reads AWSCURRENT, so the secret's own
	// resources (its value included) come first.
	after := []cdktf.ITerraformDependable{permission}
	if p.Secret != nil {
		after = append(after, resourcesOf(p.Secret)...)
	}
	rotationCfg := &secretsmanagersecretrotation.SecretsmanagerSecretRotationConfig{
		SecretId:          secretArn,
		RotationLambdaArn: r.function.Arn(),
		RotationRules: &secretsmanagersecretrotation.SecretsmanagerSecretRotationRotationRules{
			AutomaticallyAfterDays: jsii.Number(float64(p.RotationDays)),
		},
		DependsOn: &after,
	}
	r.rotation = secretsmanagersecretrotation.NewSecretsmanagerSecretRotation(r, jsii.String("Schedule"), rotationCfg)
	return r
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// resourcesOf lists the Terraform resources in c's tree: a whole construct to depend on,
// as Terraform's depends_on on a module would.
func resourcesOf(c constructs.IConstruct) []cdktf.ITerraformDependable {
	var out []cdktf.ITerraformDependable
	for _, child := range *c.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if *cdktf.TerraformResource_IsTerraformResource(child) {
			out = append(out, child.(cdktf.ITerraformDependable))
		}
	}
	return out
}

// readZip returns the package's base64 SHA-256 (what Lambda reports as CodeSha256, so a
// changed binary redeploys), recording why it cannot be used.
func (r *Rotation) readZip(path string) string {
	if path == "" {
		r.errs.Addf("FunctionZip", "is required: the zip built before synth (runtime/lambdabuild)")
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		r.errs.Addf("FunctionZip", "%q cannot be read: build it before synth (runtime/lambdabuild): %v", path, err)
		return ""
	}
	if len(b) < 4 || string(b[:4]) != "PK\x03\x04" {
		r.errs.Addf("FunctionZip", "%q is not a zip file", path)
		return ""
	}
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// FunctionArn is the rotation function's ARN.
func (r *Rotation) FunctionArn() *string { return r.function.Arn() }

// FunctionName is the rotation function's name.
func (r *Rotation) FunctionName() *string { return r.function.FunctionName() }

// Role is the function's role, for the grants a strategy needs beyond its secret.
func (r *Rotation) Role() iamrole.IamRole { return r.role }

// RotationDays is the schedule, in days.
func (r *Rotation) RotationDays() int { return r.props.RotationDays }

// LogGroupName is the function's log group.
func (r *Rotation) LogGroupName() *string { return r.logGroup.Name() }

// CodeSha256 is the deployment package's base64 SHA-256, as Lambda reports it.
func (r *Rotation) CodeSha256() string { return r.zipHash }

// Resource exposes the underlying lambda_function for escape hatches.
func (r *Rotation) Resource() lambdafunction.LambdaFunction { return r.function }

// GrantInvoke lets role invoke the rotation function (lambda:InvokeFunction on it only),
// e.g. an operator's role that tests a step by hand.
func (r *Rotation) GrantInvoke(role iampolicy.Role) {
	r.grants.Grant(grant.Request{Kind: "Invoke", Role: role, Statements: []iampolicy.Statement{{
		Sid: "InvokeRotationFunction", Actions: []string{"lambda:InvokeFunction"}, Resources: []string{*r.function.Arn()},
	}}})
}

var (
	functionNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	envKeyPattern       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

func (r *Rotation) validate(e *validation.Errors) {
	p := r.props
	if p.Secret == nil {
		e.Addf("Secret", "is required: the secret to rotate")
	}
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: it encrypts the function's environment and logs")
	}
	if !functionNamePattern.MatchString(p.FunctionName) {
		e.Addf("FunctionName", "%q must be 1-64 letters, digits, - or _", p.FunctionName)
	}
	if p.RotationDays < 1 || p.RotationDays > MaxRotationDays {
		e.Addf("RotationDays", "must be between 1 and %d days, got %d", MaxRotationDays, p.RotationDays)
	}
	if !slices.Contains(Architectures, p.Architecture) {
		e.Addf("Architecture", "%q is not one of %s", p.Architecture, strings.Join(Architectures, ", "))
	}
	if p.TimeoutSeconds < 1 || p.TimeoutSeconds > 900 {
		e.Addf("TimeoutSeconds", "must be between 1 and 900, got %d", p.TimeoutSeconds)
	}
	if p.MemoryMB < 128 || p.MemoryMB > 10240 {
		e.Addf("MemoryMB", "must be between 128 and 10240, got %d", p.MemoryMB)
	}
	e.CheckLogRetention("LogRetentionDays", p.LogRetentionDays)
	for _, k := range slices.Sorted(maps.Keys(p.Environment)) {
		switch {
		case !envKeyPattern.MatchString(k):
			e.Addf("Environment", "%q is not a variable name (a letter, then letters, digits or _)", k)
		case strings.HasPrefix(k, "AWS_"):
			e.Addf("Environment", "%q is reserved by Lambda", k)
		}
	}
	e.Merge(&r.errs)
	r.grants.Validate(e)
}
