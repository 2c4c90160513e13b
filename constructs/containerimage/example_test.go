package containerimage_test

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/iamrole"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/containerimage"
	"github.com/acme/module-registry/constructs/encryptionkey"
)

// The registry's image, built beforehand with
//
//	go run ./runtime/cmd/registry-image build -layout build/registry-image
//
// pushed during deploy into a KMS-encrypted repository and pulled, by digest, by a
// task's execution role.
func ExampleNew() {
	app := cdktf.NewApp(nil)
	stack := cdktf.NewTerraformStack(app, jsii.String("registry"))

	key := encryptionkey.New(stack, "ProjectKey", nil)
	img := containerimage.New(stack, "RegistryImage", &containerimage.Props{
		EncryptionKey: key,
		LayoutDir:     "build/registry-image",
	})
	execution := iamrole.NewIamRole(stack, jsii.String("Execution"), &iamrole.IamRoleConfig{AssumeRolePolicy: jsii.String("{}")})
	img.GrantPull(execution)
	// Hand img (a fargateservice Image) or img.ImageURI() to the service.
	cdktf.NewTerraformOutput(stack, jsii.String("image_uri"), &cdktf.TerraformOutputConfig{Value: img.ImageURI()})
}
