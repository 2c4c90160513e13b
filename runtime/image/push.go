package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ECRAPI is the part of the ECR client a push uses.
type ECRAPI interface {
	BatchCheckLayerAvailability(context.Context, *ecr.BatchCheckLayerAvailabilityInput, ...func(*ecr.Options)) (*ecr.BatchCheckLayerAvailabilityOutput, error)
	InitiateLayerUpload(context.Context, *ecr.InitiateLayerUploadInput, ...func(*ecr.Options)) (*ecr.InitiateLayerUploadOutput, error)
	UploadLayerPart(context.Context, *ecr.UploadLayerPartInput, ...func(*ecr.Options)) (*ecr.UploadLayerPartOutput, error)
	CompleteLayerUpload(context.Context, *ecr.CompleteLayerUploadInput, ...func(*ecr.Options)) (*ecr.CompleteLayerUploadOutput, error)
	PutImage(context.Context, *ecr.PutImageInput, ...func(*ecr.Options)) (*ecr.PutImageOutput, error)
	DescribeImages(context.Context, *ecr.DescribeImagesInput, ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// Repository is an ECR repository as addressed by its URL.
type Repository struct {
	RegistryID string // the account id
	Region     string
	Name       string
	URL        string // <account>.dkr.ecr.<region>.amazonaws.com/<name>
}

var repositoryURL = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)$`)

// ParseRepositoryURL splits an ECR repository URL into account, region and name.
func ParseRepositoryURL(url string) (Repository, error) {
	m := repositoryURL.FindStringSubmatch(url)
	if m == nil || len(m[3]) < 2 || len(m[3]) > 256 {
		return Repository{}, fmt.Errorf("image: %q is not an ECR repository URL (<account>.dkr.ecr.<region>.amazonaws.com/<name>)", url)
	}
	return Repository{RegistryID: m[1], Region: m[2], Name: m[3], URL: url}, nil
}

// TagFor is the tag an image is pushed under: derived from its digest, so in an
// IMMUTABLE repository it can never point at anything else, and a second push of the same
// image is the same (tag, digest) pair.
func TagFor(digest v1.Hash) string { return digest.Algorithm + "-" + digest.Hex }

// PushResult says what a push did.
type PushResult struct {
	// Digest is the manifest digest, as computed locally and confirmed by the registry.
	Digest v1.Hash
	// URI is "<repository url>@<digest>".
	URI string
	// Uploaded lists the blobs that were uploaded; the others were already present.
	Uploaded []v1.Hash
	// AlreadyPresent is true when the image was already in the repository.
	AlreadyPresent bool
}

// defaultPartSize is used when InitiateLayerUpload suggests none.
const defaultPartSize = 10 << 20

// PushECR pushes img to repo through the ECR API: blobs the repository lacks (per
// BatchCheckLayerAvailability) are uploaded in parts, then PutImage stores the manifest
// with its media type, its digest and the digest-derived tag. Pushing an image that is
// already there changes nothing. The digest ECR reports must equal the local one.
func PushECR(ctx context.Context, client ECRAPI, repo Repository, img v1.Image) (*PushResult, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	res := &PushResult{Digest: digest, URI: repo.URL + "@" + digest.String()}
	present, err := imagePresent(ctx, client, repo, digest)
	if err != nil {
		return nil, err
	}
	if present {
		res.AlreadyPresent = true
		return res, nil
	}

	blobs, err := blobsOf(img)
	if err != nil {
		return nil, err
	}
	missing, err := missingBlobs(ctx, client, repo, blobs)
	if err != nil {
		return nil, err
	}
	for _, b := range missing {
		if err := uploadBlob(ctx, client, repo, b); err != nil {
			return nil, err
		}
		res.Uploaded = append(res.Uploaded, b.digest)
	}

	manifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	out, err := client.PutImage(ctx, &ecr.PutImageInput{
		RegistryId:             aws.String(repo.RegistryID),
		RepositoryName:         aws.String(repo.Name),
		ImageManifest:          aws.String(string(manifest)),
		ImageManifestMediaType: aws.String(string(mt)),
		ImageDigest:            aws.String(digest.String()),
		ImageTag:               aws.String(TagFor(digest)),
	})
	var exists *ecrtypes.ImageAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		// Pushed concurrently by someone else; the check below confirms the digest.
	case err != nil:
		return nil, fmt.Errorf("image: PutImage %s: %w", repo.Name, err)
	default:
		if out.Image == nil || out.Image.ImageId == nil || aws.ToString(out.Image.ImageId.ImageDigest) != digest.String() {
			got := ""
			if out.Image != nil && out.Image.ImageId != nil {
				got = aws.ToString(out.Image.ImageId.ImageDigest)
			}
			return nil, fmt.Errorf("image: ECR stored the manifest as %q, the local digest is %s", got, digest)
		}
	}
	if present, err = imagePresent(ctx, client, repo, digest); err != nil {
		return nil, err
	}
	if !present {
		return nil, fmt.Errorf("image: %s is not in %s after PutImage", digest, repo.Name)
	}
	return res, nil
}

// imagePresent asks ECR whether the repository holds a manifest with digest.
func imagePresent(ctx context.Context, client ECRAPI, repo Repository, digest v1.Hash) (bool, error) {
	out, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId:     aws.String(repo.RegistryID),
		RepositoryName: aws.String(repo.Name),
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest.String())}},
	})
	var notFound *ecrtypes.ImageNotFoundException
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("image: DescribeImages %s: %w", repo.Name, err)
	}
	for _, d := range out.ImageDetails {
		if aws.ToString(d.ImageDigest) == digest.String() {
			return true, nil
		}
	}
	return false, nil
}

type blob struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

// blobsOf lists the config and the compressed layers.
func blobsOf(img v1.Image) ([]blob, error) {
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	out := []blob{{digest: cfgName, size: int64(len(rawCfg)), open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rawCfg)), nil
	}}}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		out = append(out, blob{digest: d, size: size, open: l.Compressed})
	}
	return out, nil
}

// missingBlobs returns the blobs BatchCheckLayerAvailability does not report AVAILABLE.
func missingBlobs(ctx context.Context, client ECRAPI, repo Repository, blobs []blob) ([]blob, error) {
	digests := make([]string, 0, len(blobs))
	for _, b := range blobs {
		digests = append(digests, b.digest.String())
	}
	out, err := client.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RegistryId:     aws.String(repo.RegistryID),
		RepositoryName: aws.String(repo.Name),
		LayerDigests:   digests,
	})
	if err != nil {
		return nil, fmt.Errorf("image: BatchCheckLayerAvailability %s: %w", repo.Name, err)
	}
	for _, f := range out.Failures {
		// A layer ECR has never seen is reported as a MissingLayerDigest failure; a
		// malformed digest is a bug on this side.
		if f.FailureCode == ecrtypes.LayerFailureCodeInvalidLayerDigest {
			return nil, fmt.Errorf("image: ECR rejects layer digest %s: %s", aws.ToString(f.LayerDigest), aws.ToString(f.FailureReason))
		}
	}
	available := map[string]bool{}
	for _, l := range out.Layers {
		if l.LayerAvailability == ecrtypes.LayerAvailabilityAvailable {
			available[aws.ToString(l.LayerDigest)] = true
		}
	}
	var missing []blob
	for _, b := range blobs {
		if !available[b.digest.String()] {
			missing = append(missing, b)
		}
	}
	return missing, nil
}

// uploadBlob sends one blob in parts of the size ECR asks for.
func uploadBlob(ctx context.Context, client ECRAPI, repo Repository, b blob) error {
	init, err := client.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{
		RegistryId:     aws.String(repo.RegistryID),
		RepositoryName: aws.String(repo.Name),
	})
	if err != nil {
		return fmt.Errorf("image: InitiateLayerUpload %s: %w", repo.Name, err)
	}
	partSize := aws.ToInt64(init.PartSize)
	if partSize <= 0 {
		partSize = defaultPartSize
	}
	rc, err := b.open()
	if err != nil {
		return fmt.Errorf("image: blob %s: %w", b.digest, err)
	}
	defer rc.Close()
	buf := make([]byte, partSize)
	var offset int64
	for {
		n, err := io.ReadFull(rc, buf)
		if n > 0 {
			if _, uerr := client.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{
				RegistryId:     aws.String(repo.RegistryID),
				RepositoryName: aws.String(repo.Name),
				UploadId:       init.UploadId,
				PartFirstByte:  aws.Int64(offset),
				PartLastByte:   aws.Int64(offset + int64(n) - 1),
				LayerPartBlob:  buf[:n],
			}); uerr != nil {
				return fmt.Errorf("image: UploadLayerPart %s bytes %d-%d: %w", b.digest, offset, offset+int64(n)-1, uerr)
			}
			offset += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("image: read blob %s: %w", b.digest, err)
		}
	}
	if offset != b.size {
		return fmt.Errorf("image: blob %s: read %d bytes, manifest says %d", b.digest, offset, b.size)
	}
	done, err := client.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{
		RegistryId:     aws.String(repo.RegistryID),
		RepositoryName: aws.String(repo.Name),
		UploadId:       init.UploadId,
		LayerDigests:   []string{b.digest.String()},
	})
	var exists *ecrtypes.LayerAlreadyExistsException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("image: CompleteLayerUpload %s: %w", b.digest, err)
	}
	if got := aws.ToString(done.LayerDigest); got != b.digest.String() {
		return fmt.Errorf("image: ECR stored blob %s as %q", b.digest, got)
	}
	return nil
}

// PushRegistry pushes img to repo on any OCI registry by digest and returns
// "host/repo@sha256:...". No tag is written. The digest the registry reports must
// equal the local one.
func PushRegistry(ctx context.Context, repo name.Repository, img v1.Image, opts ...remote.Option) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	target := repo.Digest(d.String())
	if err := remote.Write(target, img, opts...); err != nil {
		return "", fmt.Errorf("image: push %s: %w", target, err)
	}
	desc, err := remote.Head(target, opts...)
	if err != nil {
		return "", fmt.Errorf("image: verify %s: %w", target, err)
	}
	if desc.Digest != d {
		return "", fmt.Errorf("image: registry reports %s for %s", desc.Digest, target)
	}
	return target.String(), nil
}
