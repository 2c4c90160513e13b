package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// WriteLayout writes img as the only image of an OCI image layout at dir and returns its
// manifest digest. An existing layout at dir is replaced; any other non-empty directory
// is refused, so a wrong path never deletes unrelated files.
func WriteLayout(dir string, img v1.Image) (v1.Hash, error) {
	if dir == "" {
		return v1.Hash{}, errors.New("image: layout directory is empty")
	}
	if err := clearLayout(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	if err := p.AppendImage(img); err != nil {
		return v1.Hash{}, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image: %w", err)
	}
	return d, nil
}

func clearLayout(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("image: layout %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("image: %s is not empty and not an OCI image layout; refusing to overwrite it", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("image: replace layout %s: %w", dir, err)
	}
	return nil
}

// ReadLayout opens the OCI image layout at dir, which must hold exactly one image, and
// returns that image after checking its manifest against the digest the index records.
func ReadLayout(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("image: %s is not an OCI image layout: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("image: layout %s holds %d manifests, want exactly one image", dir, len(m.Manifests))
	}
	desc := m.Manifests[0]
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("image: layout %s: manifest %s is a %s, not an image", dir, desc.Digest, desc.MediaType)
	}
	img, err := p.Image(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	got, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if got != desc.Digest {
		return nil, fmt.Errorf("image: layout %s: manifest blob hashes to %s, index says %s", dir, got, desc.Digest)
	}
	return img, nil
}
