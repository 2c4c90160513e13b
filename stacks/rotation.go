package stacks

import (
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/jwtsecret"
	"github.com/acme/module-registry/constructs/passwordsecret"
	"github.com/acme/module-registry/constructs/registrytables"
	"github.com/acme/module-registry/constructs/secretrotation"
	"github.com/acme/module-registry/runtime/contract"
)

// RotationProps configure the automatic rotation of the registry's two secrets.
type RotationProps struct {
	// FunctionZip is the rotation function's deployment package, built before synth
	// (runtime/lambdabuild of runtime/cmd/rotate-secret). Required.
	FunctionZip string
	// Days is how often both secrets rotate, 1-30. Default: 30.
	Days int
}

// Rotations are the rotation functions of the JWT secret and the admin password.
type Rotations struct {
	JWT, AdminPassword *secretrotation.Rotation
}

// newRotations rotates both secrets with the one function binary, each deployed with its
// own strategy and role. The administrator's rotation applies the new password to the
// users table (runtime/rotation.AdminPassword), so it gets that table and nothing else
// of the service's; the registry's task role still cannot read the password.
func newRotations(stack cdktf.TerraformStack, p RotationProps, key *encryptionkey.Key, service contract.Service,
	jwt *jwtsecret.Secret, admin *passwordsecret.Secret, tables *registrytables.Tables) *Rotations {
	r := &Rotations{
		JWT: secretrotation.New(stack, "JwtSecretRotation", &secretrotation.Props{
			Secret: jwt, EncryptionKey: key, FunctionZip: p.FunctionZip, RotationDays: p.Days,
			FunctionName: "acme-jwt-secret-rotation",
			Environment:  map[string]string{contract.EnvRotationStrategy: contract.RotationJWT},
		}),
		AdminPassword: secretrotation.New(stack, "AdminPasswordRotation", &secretrotation.Props{
			Secret: admin, EncryptionKey: key, FunctionZip: p.FunctionZip, RotationDays: p.Days,
			FunctionName: "acme-registry-admin-rotation",
			Environment:  service.AdminRotationEnvironment(contract.DefaultAdminUser),
		}),
	}
	tables.Users().GrantReadWrite(r.AdminPassword.Role())
	output(stack, "jwt_secret_rotation_function", r.JWT.FunctionName(), "Rotation function of the JWT signing secret")
	output(stack, "admin_password_rotation_function", r.AdminPassword.FunctionName(), "Rotation function of the administrator password")
	return r
}
