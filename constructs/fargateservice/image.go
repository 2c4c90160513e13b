package fargateservice

import (
	"fmt"
	"regexp"

	"github.com/acme/module-registry/constructs/iampolicy"
)

// Image is the container image the service runs (constructs/containerimage implements
// it).
type Image interface {
	// ImageURI is "<registry>/<repository>@sha256:<hex>" - never a tag. When the image is
	// pushed during deploy, the value is a reference to the push resource's output, so
	// anything using it is ordered after the push.
	ImageURI() *string
	// GrantPull lets role pull this image (ecr:GetAuthorizationToken on "*", which AWS
	// requires, plus ecr:BatchGetImage, ecr:GetDownloadUrlForLayer,
	// ecr:BatchCheckLayerAvailability on the repository ARN) - nothing for public images.
	GrantPull(role iampolicy.Role)
}

// digestURIPattern is "<registry>/<repository>@sha256:<64 hex>".
var digestURIPattern = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$`)

// ValidateImageURI checks that uri names an image by digest, not by tag.
func ValidateImageURI(uri string) error {
	if !digestURIPattern.MatchString(uri) {
		return fmt.Errorf("%q must be <registry>/<repository>@sha256:<64 hex digits>: images are pinned by digest, never by tag", uri)
	}
	return nil
}

// DigestImage is a public image pinned by digest. It needs no permissions to pull, so
// GrantPull grants nothing.
type DigestImage struct{ uri string }

var _ Image = DigestImage{}

// ImageFromDigestURI returns a public, digest-pinned image such as
// "public.ecr.aws/nginx/nginx@sha256:<hex>". An URI without a digest fails synth (the
// service validates ImageURI).
func ImageFromDigestURI(uri string) DigestImage { return DigestImage{uri: uri} }

// ImageURI is the digest-pinned URI.
func (i DigestImage) ImageURI() *string { return &i.uri }

// GrantPull grants nothing: a public image needs no permission.
func (DigestImage) GrantPull(iampolicy.Role) {}
