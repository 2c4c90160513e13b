package containerimage_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/containerimage"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/removal"
	"github.com/acme/module-registry/runtime/image"
)

// serviceImage is the contract's fargateservice.Image, restated here so this package does not
// import the service.
type serviceImage interface {
	ImageURI() *string
	GrantPull(role iampolicy.Role)
}

var _ serviceImage = (*containerimage.Image)(nil)

// testLayout writes a small image (not the registry: synth never builds) to a layout.
func testLayout(t testing.TB, binary string) (dir, digest string) {
	t.Helper()
	img, err := image.Assemble([]byte(binary), "amd64", time.Unix(0, 0))
	require.NoError(t, err)
	dir = filepath.Join(t.TempDir(), "layout")
	d, err := image.WriteLayout(dir, img)
	require.NoError(t, err)
	return dir, d.String()
}

func TestDefaultsAreSecure(t *testing.T) {
	layout, digest := testLayout(t, "registry binary")
	stack := synthtest.NewStack(t)
	key := encryptionkey.New(stack, "Key", nil)
	img := containerimage.New(stack, "Image", &containerimage.Props{EncryptionKey: key, LayoutDir: layout})
	assert.Equal(t, digest, img.Digest())
	out := synthtest.Synth(t, stack)

	repo := out.Resource(t, "aws_ecr_repository")
	assert.Equal(t, "acme-registry", repo["name"])
	assert.Equal(t, "IMMUTABLE", repo["image_tag_mutability"])
	assert.Equal(t, map[string]any{"scan_on_push": true}, repo["image_scanning_configuration"])
	assert.Equal(t, false, repo["force_delete"], "destroy keeps a repository with images")
	enc, _ := repo["encryption_configuration"].([]any)
	require.Len(t, enc, 1)
	encryption := enc[0].(map[string]any)
	assert.Equal(t, "KMS", encryption["encryption_type"])
	assert.Regexp(t, `^\$\{aws_kms_key\.[^.]+\.arn\}$`, encryption["kms_key"], "encrypted with the project key")

	push := out.Resource(t, "terraform_data")
	assert.NotContains(t, push, "provider", "terraform_data is built into Terraform")
	repoURL := `${aws_ecr_repository.` + resourceName(t, out, "aws_ecr_repository") + `.repository_url}`
	assert.Equal(t, repoURL+"@"+digest, push["input"], "the URI is pinned by digest")
	assert.Equal(t, map[string]any{"digest": digest, "repository_url": repoURL}, push["triggers_replace"],
		"a new digest or repository replaces the resource and pushes again")

	provs := push["provisioner"].([]any)
	require.Len(t, provs, 1)
	exec := provs[0].(map[string]any)["local-exec"].(map[string]any)
	assert.Equal(t, repoURL, exec["command"], "the repository URL is the command's last argument")
	abs, err := filepath.Abs(layout)
	require.NoError(t, err)
	assert.Equal(t, append(append([]string{}, containerimage.DefaultPushCommand...),
		"-layout", abs, "-digest", digest, "-repository"), synthtest.Strings(exec["interpreter"]))
	root, err := image.FindModuleRoot(".")
	require.NoError(t, err)
	assert.Equal(t, root, exec["working_dir"], "go run resolves the command in the module")
	assert.NotContains(t, exec, "environment")

	// The URI users get is the push resource's output: they are ordered after the push.
	assert.Regexp(t, `^\$\{TfToken\[TOKEN\.\d+\]\}$`, *img.ImageURI())
	stack2 := synthtest.NewStack(t)
	img2 := containerimage.New(stack2, "Image", &containerimage.Props{EncryptionKey: encryptionkey.New(stack2, "Key", nil), LayoutDir: layout})
	stack2.AddOverride(jsii.String("output.uri.value"), img2.ImageURI())
	out2 := synthtest.Synth(t, stack2)
	assert.Regexp(t, `^\$\{terraform_data\.[^.]+\.output\}$`, out2.Tree["output"].(map[string]any)["uri"].(map[string]any)["value"])

	assert.Empty(t, out.Resources("aws_iam_role_policy"), "no grants until asked")
	assert.Len(t, key.PolicyStatements(), 1, "ECR uses the key through a grant it creates; no key-policy statement")
}

func resourceName(t *testing.T, out *synthtest.Result, typ string) string {
	t.Helper()
	for name := range out.Resources(typ) {
		return name
	}
	t.Fatalf("no %s", typ)
	return ""
}

// ECR.3: a lifecycle policy keeps the newest images (the running one and the ones a
// rollback may return to) and expires the rest; untagged ones go after a day.
func TestLifecyclePolicyKeepsTheImagesInUse(t *testing.T) {
	layout, _ := testLayout(t, "registry binary")
	for _, c := range []struct {
		keep, want int
	}{{0, containerimage.DefaultKeepImages}, {3, 3}} {
		stack := synthtest.NewStack(t)
		containerimage.New(stack, "Image", &containerimage.Props{EncryptionKey: encryptionkey.New(stack, "Key", nil), LayoutDir: layout, KeepImages: c.keep})
		out := synthtest.Synth(t, stack)
		lp := out.Resource(t, "aws_ecr_lifecycle_policy")
		assert.Equal(t, "${aws_ecr_repository."+resourceName(t, out, "aws_ecr_repository")+".name}", lp["repository"])
		var policy struct {
			Rules []struct {
				RulePriority int `json:"rulePriority"`
				Selection    struct {
					TagStatus, CountType, CountUnit string
					CountNumber                     int
				}
				Action struct{ Type string }
			}
		}
		require.NoError(t, json.Unmarshal([]byte(lp["policy"].(string)), &policy))
		require.Len(t, policy.Rules, 2)
		untagged, older := policy.Rules[0], policy.Rules[1]
		assert.Equal(t, []any{1, "untagged", "sinceImagePushed", "days", 1, "expire"},
			[]any{untagged.RulePriority, untagged.Selection.TagStatus, untagged.Selection.CountType, untagged.Selection.CountUnit, untagged.Selection.CountNumber, untagged.Action.Type})
		assert.Equal(t, []any{2, "any", "imageCountMoreThan", c.want, "expire"},
			[]any{older.RulePriority, older.Selection.TagStatus, older.Selection.CountType, older.Selection.CountNumber, older.Action.Type},
			"the rule on any image comes last, as ECR requires")
	}
}

func TestOptions(t *testing.T) {
	layout, _ := testLayout(t, "registry binary")
	stack := synthtest.NewStack(t)
	containerimage.New(stack, "Image", &containerimage.Props{
		EncryptionKey:   encryptionkey.New(stack, "Key", nil),
		LayoutDir:       layout,
		RepositoryName:  "team-b/registry",
		PushCommand:     []string{"/usr/local/bin/registry-image", "push"},
		PushWorkingDir:  "/srv",
		PushEnvironment: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_SECRET_ACCESS_KEY": "test"},
		RemovalPolicy:   removal.Destroy,
	})
	out := synthtest.Synth(t, stack)
	repo := out.Resource(t, "aws_ecr_repository")
	assert.Equal(t, "team-b/registry", repo["name"])
	assert.Equal(t, true, repo["force_delete"])
	exec := out.Resource(t, "terraform_data")["provisioner"].([]any)[0].(map[string]any)["local-exec"].(map[string]any)
	assert.Equal(t, []string{"/usr/local/bin/registry-image", "push"}, synthtest.Strings(exec["interpreter"])[:2])
	assert.Equal(t, "/srv", exec["working_dir"])
	assert.Equal(t, map[string]any{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_SECRET_ACCESS_KEY": "test"}, exec["environment"])
}

func TestGrantPull(t *testing.T) {
	layout, _ := testLayout(t, "registry binary")
	stack := synthtest.NewStack(t)
	img := containerimage.New(stack, "Image", &containerimage.Props{EncryptionKey: encryptionkey.New(stack, "Key", nil), LayoutDir: layout})
	role := synthtest.Role(stack, "Execution")
	img.GrantPull(role)
	out := synthtest.Synth(t, stack)

	policy := out.Resource(t, "aws_iam_role_policy")
	statements := synthtest.BySid(out.PolicyStatements(t, policy["policy"]))
	require.Len(t, statements, 2)
	token := statements[containerimage.GetAuthorizationTokenSid]
	assert.Equal(t, []string{"ecr:GetAuthorizationToken"}, synthtest.Strings(token["actions"]))
	assert.Equal(t, []string{"*"}, synthtest.Strings(token["resources"]), "AWS requires * for the token, and only for it")
	pull := statements[containerimage.PullImageSid]
	assert.ElementsMatch(t, containerimage.PullActions, synthtest.Strings(pull["actions"]))
	assert.Equal(t, []string{"${aws_ecr_repository." + resourceName(t, out, "aws_ecr_repository") + ".arn}"}, synthtest.Strings(pull["resources"]))
	for _, a := range synthtest.Strings(pull["actions"]) {
		assert.NotContains(t, a, "*")
		assert.NotContains(t, []string{"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}, a, "pull only")
	}
}

func TestValidation(t *testing.T) {
	layout, _ := testLayout(t, "registry binary")
	notLayout := t.TempDir()
	twoImages, _ := testLayout(t, "another")
	indexPath := filepath.Join(twoImages, "index.json")
	raw, err := os.ReadFile(indexPath)
	require.NoError(t, err)
	var index map[string]any
	require.NoError(t, json.Unmarshal(raw, &index))
	index["manifests"] = append(index["manifests"].([]any), index["manifests"].([]any)[0])
	raw, _ = json.Marshal(index)
	require.NoError(t, os.WriteFile(indexPath, raw, 0o644))
	corrupt, digest := testLayout(t, "third")
	require.NoError(t, os.WriteFile(filepath.Join(corrupt, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:")), []byte("{}"), 0o644))

	cases := []struct {
		name  string
		props containerimage.Props
		want  string
	}{
		{"no key", containerimage.Props{LayoutDir: layout}, "EncryptionKey: is required"},
		{"no layout", containerimage.Props{}, "LayoutDir: is required"},
		{"missing layout", containerimage.Props{LayoutDir: filepath.Join(notLayout, "nope")}, "is not an OCI image layout (no oci-layout file); build it first"},
		{"not a layout", containerimage.Props{LayoutDir: notLayout}, "is not an OCI image layout"},
		{"two images", containerimage.Props{LayoutDir: twoImages}, "holds 2 manifests, want exactly one image"},
		{"corrupt", containerimage.Props{LayoutDir: corrupt}, "the layout is corrupt, build it again"},
		{"bad name", containerimage.Props{LayoutDir: layout, RepositoryName: "Acme_Registry"}, `RepositoryName: "Acme_Registry" must be`},
		{"short name", containerimage.Props{LayoutDir: layout, RepositoryName: "a"}, `RepositoryName: "a" must be`},
		{"empty program", containerimage.Props{LayoutDir: layout, PushCommand: []string{""}}, "PushCommand: the program (first element) is empty"},
		{"bad env name", containerimage.Props{LayoutDir: layout, PushEnvironment: map[string]string{"A-B": "x"}}, `PushEnvironment: "A-B" is not an environment variable name`},
		{"secret for AWS", containerimage.Props{LayoutDir: layout, PushEnvironment: map[string]string{"AWS_SECRET_ACCESS_KEY": "real"}}, "AWS_SECRET_ACCESS_KEY would be written to the synthesized configuration"},
		{"keep no images", containerimage.Props{LayoutDir: layout, KeepImages: -1}, "KeepImages: must be between 1 and 1000, got -1"},
		{"keep too many", containerimage.Props{LayoutDir: layout, KeepImages: 1001}, "KeepImages: must be between 1 and 1000, got 1001"},
		{"session for a remote endpoint", containerimage.Props{LayoutDir: layout, PushEnvironment: map[string]string{"AWS_ENDPOINT_URL": "https://ecr.example.com", "AWS_SESSION_TOKEN": "t"}}, "AWS_SESSION_TOKEN would be written"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stack := synthtest.NewStack(t)
			p := c.props
			if !strings.HasPrefix(c.name, "no key") {
				p.EncryptionKey = encryptionkey.New(stack, "Key", nil)
			}
			containerimage.New(stack, "Image", &p)
			errs := synthtest.ValidationErrors(t, stack)
			assert.Len(t, errs, 1, "%v", errs)
			assert.Contains(t, strings.Join(errs, "\n"), c.want)
			assert.Contains(t, strings.Join(errs, "\n"), "[test/Image]", "names the construct")
		})
	}

	stack := synthtest.NewStack(t)
	img := containerimage.New(stack, "Image", &containerimage.Props{EncryptionKey: encryptionkey.New(stack, "Key", nil), LayoutDir: layout})
	img.GrantPull(nil)
	assert.Contains(t, strings.Join(synthtest.ValidationErrors(t, stack), "\n"), "GrantPull: role is nil")
}
