package containerimage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acme/module-registry/constructs/containerimage"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/runtime/image"
)

// The registry's image, built beforehand (here a stand-in; the real one with
//
//	go run ./runtime/cmd/registry-image build -layout build/registry-image
//
// ), pushed during deploy into a KMS-encrypted repository with immutable tags and pulled,
// by digest, by a task's execution role.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "layout")
	defer os.RemoveAll(dir)
	built, _ := image.Assemble([]byte("registry binary"), "amd64", time.Unix(0, 0))
	_, _ = image.WriteLayout(filepath.Join(dir, "registry-image"), built)

	stack := synthtest.ExampleStack("registry")
	key := encryptionkey.New(stack, "ProjectKey", nil)
	img := containerimage.New(stack, "RegistryImage", &containerimage.Props{
		EncryptionKey: key,
		LayoutDir:     filepath.Join(dir, "registry-image"),
	})
	execution := synthtest.Role(stack, "Execution")
	img.GrantPull(execution)
	// Hand img (a fargateservice Image) or img.ImageURI() to the service.

	synthtest.Print(stack, "aws_ecr_repository", "name", "image_tag_mutability", "force_delete")
	fmt.Println("pinned by digest:", strings.HasPrefix(img.Digest(), "sha256:"))
	// Output:
	// aws_ecr_repository name: "acme-registry"
	// aws_ecr_repository image_tag_mutability: "IMMUTABLE"
	// aws_ecr_repository force_delete: false
	// pinned by digest: true
}
