package containerimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// Manifest media types an image layout may hold: OCI and Docker v2 image manifests (no
// indexes: ECS pulls one platform, and the digest must name exactly what runs).
var imageManifestTypes = map[string]bool{
	"application/vnd.oci.image.manifest.v1+json":           true,
	"application/vnd.docker.distribution.manifest.v2+json": true,
}

var sha256Digest = regexp.MustCompile(`^sha256:([0-9a-f]{64})$`)

// LayoutDigest reads the manifest digest of the only image in the OCI image layout at dir
// ("sha256:<hex>"). It checks the layout marker, that the index names exactly one image
// manifest, and that the manifest blob is present and hashes to that digest. It never
// builds anything.
func LayoutDigest(dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("is required: the OCI image layout to push (build it first with `registry-image build -layout DIR`)")
	}
	marker, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil {
		return "", fmt.Errorf("%q is not an OCI image layout (no oci-layout file); build it first with `registry-image build -layout %s`", dir, dir)
	}
	var version struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if json.Unmarshal(marker, &version) != nil || version.ImageLayoutVersion != "1.0.0" {
		return "", fmt.Errorf("%q: oci-layout is not image layout version 1.0.0", dir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return "", fmt.Errorf("%q: %v", dir, err)
	}
	var index struct {
		Manifests []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
			Size      int64  `json:"size"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		return "", fmt.Errorf("%q: index.json is not valid JSON: %v", dir, err)
	}
	if len(index.Manifests) != 1 {
		return "", fmt.Errorf("%q holds %d manifests, want exactly one image", dir, len(index.Manifests))
	}
	m := index.Manifests[0]
	if !imageManifestTypes[m.MediaType] {
		return "", fmt.Errorf("%q: the manifest is a %q, want an OCI or Docker v2 image manifest", dir, m.MediaType)
	}
	hexDigest := sha256Digest.FindStringSubmatch(m.Digest)
	if hexDigest == nil {
		return "", fmt.Errorf("%q: manifest digest %q is not sha256:<64 hex digits>", dir, m.Digest)
	}
	f, err := os.Open(filepath.Join(dir, "blobs", "sha256", hexDigest[1]))
	if err != nil {
		return "", fmt.Errorf("%q: manifest blob %s is missing", dir, m.Digest)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", fmt.Errorf("%q: %v", dir, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hexDigest[1] || n != m.Size {
		return "", fmt.Errorf("%q: manifest blob does not match %s (size %d): the layout is corrupt, build it again", dir, m.Digest, m.Size)
	}
	return m.Digest, nil
}
