// Package containerimage provides the registry's container image in a private ECR
// repository: KMS-encrypted with the project key, IMMUTABLE tags, scan on push, a
// lifecycle policy that keeps the images a deployment can run (the newest KeepImages)
// and expires the rest, and the image pushed during deploy and referenced only by
// digest.
//
// The image is built before synth (no Docker needed):
//
//	go run ./runtime/cmd/registry-image build -layout build/registry-image
//
// At synth, New reads the digest from that OCI image layout (it never builds). Deploy
// creates the repository, then a Terraform built-in terraform_data resource whose
// local-exec provisioner runs the push command (by default
// `go run github.com/acme/module-registry/runtime/cmd/registry-image push`, which pushes
// through the ECR API and checks that ECR's digest is the local one). The resource is
// replaced, and the push runs again, whenever the digest or the repository changes.
// ImageURI is that resource's output, "<repository url>@sha256:<hex>", so a service
// using it is created only after the push succeeded, and always runs exactly the image
// that was built.
package containerimage

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecrlifecyclepolicy"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/ecrrepository"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/defaults"
	"github.com/acme/module-registry/constructs/internal/grant"
	"github.com/acme/module-registry/constructs/internal/validation"
	"github.com/acme/module-registry/constructs/removal"
)

// Defaults.
const (
	DefaultRepositoryName = "acme-registry"
	// DefaultKeepImages keeps the running image and the ones a rollback may return to.
	DefaultKeepImages = 10
	// UntaggedExpiryDays is when untagged images expire: every push tags its image, so
	// an untagged one is left over (a tag moved away from it) and nothing runs it.
	UntaggedExpiryDays = 1
)

// DefaultPushCommand pushes a layout to an ECR repository. New appends
// "-layout <dir> -digest <digest> -repository <url>".
var DefaultPushCommand = []string{"go", "run", "github.com/acme/module-registry/runtime/cmd/registry-image", "push"}

// Statement ids of GrantPull.
const (
	// GetAuthorizationTokenSid names the one statement with Resource "*":
	// ecr:GetAuthorizationToken is account-wide and AWS accepts no other resource for it.
	// Compliance checks whitelist the wildcard by this Sid.
	GetAuthorizationTokenSid = "EcrGetAuthorizationToken"
	// PullImageSid names the statement allowing pulls from this repository only.
	PullImageSid = "PullImage"
)

// PullActions are the repository-scoped actions a pull needs.
var PullActions = []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}

// Props configures an Image. The zero value plus EncryptionKey and LayoutDir is the
// secure default.
type Props struct {
	// RepositoryName names the ECR repository. Default: "acme-registry".
	RepositoryName string
	// EncryptionKey encrypts the repository (KMS encryption). Required.
	EncryptionKey encryptionkey.IKey
	// LayoutDir is an OCI image layout holding one image, built beforehand (see the
	// package doc). Its digest is read at synth. Required. Relative paths are resolved
	// against the working directory at synth.
	LayoutDir string
	// PushCommand is the program and arguments that push; New appends
	// "-layout <absolute dir> -digest <digest> -repository <repository url>". It runs
	// without a shell. Default: DefaultPushCommand.
	PushCommand []string
	// PushWorkingDir is where the push command runs. Default: the directory holding the
	// nearest go.mod at or above the working directory at synth (so `go run` resolves the
	// command's package), or Terraform's working directory when there is none.
	PushWorkingDir string
	// PushEnvironment is added to the push command's environment, e.g. AWS_ENDPOINT_URL
	// for the local emulator. It is written to the synthesized configuration, so it must
	// not hold secrets: AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN are refused unless
	// AWS_ENDPOINT_URL points at a loopback emulator (whose credentials are fake).
	// Default: none; the command inherits Terraform's environment.
	PushEnvironment map[string]string
	// RemovalPolicy removal.Destroy lets destroy delete the repository with its images;
	// for local and test stacks. Default: removal.Retain (destroy fails while images
	// remain).
	RemovalPolicy removal.Policy
	// KeepImages is how many of the most recently pushed images the repository keeps,
	// 1-1000: the one the service runs and those a rollback may return to. Older images
	// expire, and untagged ones a day after their push. Default: 10.
	KeepImages int
}

// Image is the ECR repository and the pushed image.
type Image struct {
	constructs.Construct
	props  Props
	digest string
	repo   ecrrepository.EcrRepository
	push   cdktf.TerraformResource
	grants *grant.Granter
	errs   validation.Errors
}

// New creates the repository and the push under scope.
func New(scope constructs.Construct, id string, props *Props) *Image {
	p := defaults.Copy(props)
	defaults.Set(&p.RepositoryName, DefaultRepositoryName)
	if len(p.PushCommand) == 0 {
		p.PushCommand = DefaultPushCommand
	}
	defaults.Set(&p.PushWorkingDir, moduleRoot())
	defaults.Set(&p.KeepImages, DefaultKeepImages)
	img := &Image{props: p}
	constructs.NewConstruct_Override(img, scope, jsii.String(id))
	img.grants = grant.New(img)
	validation.Register(img, img.validate)

	layoutDir := p.LayoutDir
	if layoutDir != "" {
		if abs, err := filepath.Abs(layoutDir); err == nil {
			layoutDir = abs
		}
	}
	digest, err := LayoutDigest(layoutDir)
	if err != nil {
		img.errs.Addf("LayoutDir", "%v", err)
		digest = "sha256:unknown"
	}
	img.digest = digest

	cfg := &ecrrepository.EcrRepositoryConfig{
		Name:               jsii.String(p.RepositoryName),
		ImageTagMutability: jsii.String("IMMUTABLE"),
		ImageScanningConfiguration: &ecrrepository.EcrRepositoryImageScanningConfiguration{
			ScanOnPush: jsii.Bool(true),
		},
		ForceDelete: jsii.Bool(p.RemovalPolicy.Destroys()),
	}
	if p.EncryptionKey != nil {
		cfg.EncryptionConfiguration = &[]*ecrrepository.EcrRepositoryEncryptionConfiguration{{
			EncryptionType: jsii.String("KMS"),
			KmsKey:         p.EncryptionKey.KeyArn(),
		}}
	}
	img.repo = ecrrepository.NewEcrRepository(img, jsii.String("Repository"), cfg)
	ecrlifecyclepolicy.NewEcrLifecyclePolicy(img, jsii.String("LifecyclePolicy"), &ecrlifecyclepolicy.EcrLifecyclePolicyConfig{
		Repository: img.repo.Name(),
		Policy:     jsii.String(LifecyclePolicy(p.KeepImages)),
	})

	repoURL := img.repo.RepositoryUrl()
	// The repository URL is the last argument: local-exec runs interpreter + command
	// without a shell, so nothing here is ever shell-quoted.
	argv := append(append([]string{}, p.PushCommand...), "-layout", layoutDir, "-digest", digest, "-repository")
	prov := &cdktf.LocalExecProvisioner{
		Type:        jsii.String("local-exec"),
		Interpreter: jsii.Strings(argv...),
		Command:     repoURL,
	}
	if p.PushWorkingDir != "" {
		prov.WorkingDir = jsii.String(p.PushWorkingDir)
	}
	if len(p.PushEnvironment) > 0 {
		env := map[string]*string{}
		for k, v := range p.PushEnvironment {
			env[k] = jsii.String(v)
		}
		prov.Environment = &env
	}
	// terraform_data is built into Terraform (no provider); cdktf 0.20 has no class for it.
	img.push = cdktf.NewTerraformResource(img, jsii.String("Push"), &cdktf.TerraformResourceConfig{
		TerraformResourceType: jsii.String("terraform_data"),
		Provisioners:          &[]any{prov},
	})
	// A new digest or another repository replaces the resource, which runs the push again.
	img.push.AddOverride(jsii.String("triggers_replace"), map[string]any{
		"digest":         digest,
		"repository_url": repoURL,
	})
	img.push.AddOverride(jsii.String("input"), jsii.String(fmt.Sprintf("%s@%s", *repoURL, digest)))
	return img
}

// lifecycleRule is one rule of an ECR lifecycle policy, in ECR's JSON.
type lifecycleRule struct {
	RulePriority int    `json:"rulePriority"`
	Description  string `json:"description"`
	Selection    struct {
		TagStatus   string `json:"tagStatus"`
		CountType   string `json:"countType"`
		CountUnit   string `json:"countUnit,omitempty"`
		CountNumber int    `json:"countNumber"`
	} `json:"selection"`
	Action struct {
		Type string `json:"type"`
	} `json:"action"`
}

// LifecyclePolicy is the repository's lifecycle policy: untagged images expire
// UntaggedExpiryDays after their push, and of the rest only the keep most recently
// pushed stay. ECR evaluates the "any" rule last, so it has the highest priority number.
func LifecyclePolicy(keep int) string {
	untagged := lifecycleRule{RulePriority: 1, Description: fmt.Sprintf("Expire untagged images %d day after push", UntaggedExpiryDays)}
	untagged.Selection.TagStatus, untagged.Selection.CountType = "untagged", "sinceImagePushed"
	untagged.Selection.CountUnit, untagged.Selection.CountNumber = "days", UntaggedExpiryDays
	untagged.Action.Type = "expire"
	older := lifecycleRule{RulePriority: 2, Description: fmt.Sprintf("Keep the %d most recently pushed images", keep)}
	older.Selection.TagStatus, older.Selection.CountType, older.Selection.CountNumber = "any", "imageCountMoreThan", keep
	older.Action.Type = "expire"
	out, err := json.Marshal(map[string]any{"rules": []lifecycleRule{untagged, older}})
	if err != nil {
		panic(err) // strings and numbers only: cannot fail
	}
	return string(out)
}

// moduleRoot is the nearest directory with a go.mod from the working directory up, or "".
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// ImageURI is "<repository url>@sha256:<hex>", read from the push resource, so anything
// using it is ordered after the push.
func (i *Image) ImageURI() *string { return i.push.GetStringAttribute(jsii.String("output")) }

// Digest is the image's manifest digest, "sha256:<hex>", known at synth.
func (i *Image) Digest() string { return i.digest }

// RepositoryURL is the repository's URL (<account>.dkr.ecr.<region>.amazonaws.com/<name>).
func (i *Image) RepositoryURL() *string { return i.repo.RepositoryUrl() }

// RepositoryArn is the repository's ARN.
func (i *Image) RepositoryArn() *string { return i.repo.Arn() }

// RepositoryName is the repository's name.
func (i *Image) RepositoryName() *string { return i.repo.Name() }

// Repository exposes the underlying aws_ecr_repository for escape hatches.
func (i *Image) Repository() ecrrepository.EcrRepository { return i.repo }

// PushResource exposes the terraform_data resource that pushes, for depends_on.
func (i *Image) PushResource() cdktf.TerraformResource { return i.push }

// GrantPull lets role pull this image: ecr:GetAuthorizationToken (account-wide; AWS
// requires Resource "*", statement GetAuthorizationTokenSid) and PullActions on this
// repository only. No KMS permission is needed: ECR decrypts layers with its own grant
// on the key.
func (i *Image) GrantPull(role iampolicy.Role) {
	i.grants.Grant(grant.Request{Kind: "Pull", Role: role, Statements: []iampolicy.Statement{{
		Sid:       GetAuthorizationTokenSid,
		Actions:   []string{"ecr:GetAuthorizationToken"},
		Resources: []string{"*"},
	}, {
		Sid:       PullImageSid,
		Actions:   PullActions,
		Resources: []string{*i.repo.Arn()},
	}}})
}

var repositoryNamePattern = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// Variables that would put a secret into the synthesized configuration.
var secretVariables = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}

func (i *Image) validate(e *validation.Errors) {
	p := i.props
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the repository is encrypted with the project's customer-managed key")
	}
	if !validation.IsToken(p.RepositoryName) {
		if len(p.RepositoryName) < 2 || len(p.RepositoryName) > 256 || !repositoryNamePattern.MatchString(p.RepositoryName) {
			e.Addf("RepositoryName", "%q must be 2-256 lowercase letters, digits and ._-/ separators, starting and ending with a letter or digit", p.RepositoryName)
		}
	}
	if p.PushCommand[0] == "" {
		e.Addf("PushCommand", "the program (first element) is empty")
	}
	keys := make([]string, 0, len(p.PushEnvironment))
	for k := range p.PushEnvironment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !validation.IsEnvVarName(k) {
			e.Addf("PushEnvironment", "%q is not an environment variable name", k)
		}
	}
	if !loopback(p.PushEnvironment["AWS_ENDPOINT_URL"]) {
		for _, k := range secretVariables {
			if _, ok := p.PushEnvironment[k]; ok {
				e.Addf("PushEnvironment", "%s would be written to the synthesized configuration; give real credentials through Terraform's environment (fake ones are accepted only with AWS_ENDPOINT_URL on a loopback emulator)", k)
			}
		}
	}
	if p.KeepImages < 1 || p.KeepImages > 1000 {
		e.Addf("KeepImages", "must be between 1 and 1000, got %d", p.KeepImages)
	}
	e.CheckRemovalPolicy(p.RemovalPolicy)
	i.grants.Validate(e)
	e.Merge(&i.errs)
}

func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || endpoint == "" {
		return false
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}
