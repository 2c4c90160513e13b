package awsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
)

// maxValidatorRead bounds the read of a stored script: validators are at most 64 KiB,
// so an object much larger than that is not one the registry wrote.
const maxValidatorRead = 1 << 20

var _ storage.ValidatorStore = (*Store)(nil)

// validatorAttrs are the attributes of a validator on a packages-table item.
var validatorAttrs = []string{contract.AttrValidatorRef, contract.AttrValidatorSHA256, contract.AttrValidatorSize,
	contract.AttrValidatorUpdatedAt, contract.AttrValidatorUpdatedBy}

// PutValidator writes the script as a new S3 version of contract.ValidatorObject
// (SSE-KMS, its SHA-256 checked by S3), then records that version on the package's
// item, only while the package exists; the version it replaces is deleted.
func (s *Store) PutValidator(ctx context.Context, v storage.Validator) error {
	key := contract.ValidatorObject(v.Name, v.Version)
	sum := sha256.Sum256(v.Source)
	if hex.EncodeToString(sum[:]) != v.SHA256 {
		return fmt.Errorf("validator of %s: source does not match its SHA-256 %s", contract.PackageKey(v.Name, v.Version), v.SHA256)
	}
	out, err := s.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               &s.cfg.Bucket,
		Key:                  &key,
		Body:                 bytes.NewReader(v.Source),
		ContentLength:        aws.Int64(int64(len(v.Source))),
		ContentType:          aws.String("text/javascript; charset=utf-8"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          &s.cfg.KMSKeyID,
		ChecksumSHA256:       aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		return fmt.Errorf("s3 put validator %s: %w", key, err)
	}
	ref := joinRef(key, out.VersionId)
	upd, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.cfg.Tables.Packages,
		Key:                 item{contract.AttrPackageKey: sAttr(contract.PackageKey(v.Name, v.Version))},
		ConditionExpression: aws.String("attribute_exists(#k)"),
		UpdateExpression:    aws.String("SET #ref = :ref, #sha = :sha, #size = :size, #at = :at, #by = :by"),
		ExpressionAttributeNames: map[string]string{"#k": contract.AttrPackageKey, "#ref": contract.AttrValidatorRef,
			"#sha": contract.AttrValidatorSHA256, "#size": contract.AttrValidatorSize, "#at": contract.AttrValidatorUpdatedAt,
			"#by": contract.AttrValidatorUpdatedBy},
		ExpressionAttributeValues: item{":ref": sAttr(ref), ":sha": sAttr(v.SHA256), ":size": nAttr(v.Size),
			":at": fmtT(v.UpdatedAt), ":by": sAttr(v.UpdatedBy)},
		ReturnValues: ddbtypes.ReturnValueUpdatedOld,
	})
	if err != nil {
		s.deleteVersion(ctx, ref)
		if isConditionFailed(err) {
			return fmt.Errorf("package %s: %w", contract.PackageKey(v.Name, v.Version), storage.ErrNotFound)
		}
		return fmt.Errorf("dynamodb record validator: %w", err)
	}
	if old := getS(upd.Attributes, contract.AttrValidatorRef); old != "" && old != ref {
		s.deleteVersion(ctx, old)
	}
	return nil
}

// GetValidator reads the version recorded on the package's item: the script of a
// validator replaced meanwhile is never mixed with the other's record.
func (s *Store) GetValidator(ctx context.Context, name, version string) (storage.Validator, error) {
	pk := contract.PackageKey(name, version)
	it, err := s.get(ctx, s.cfg.Tables.Packages, contract.AttrPackageKey, pk)
	if err != nil {
		return storage.Validator{}, fmt.Errorf("validator of %s: %w", pk, err)
	}
	v, ref := validatorOf(name, version, it)
	if ref == "" {
		return storage.Validator{}, fmt.Errorf("validator of %s: %w", pk, storage.ErrNotFound)
	}
	key, ver := splitRef(ref)
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key, VersionId: optional(ver)})
	if err != nil {
		if isNotFound(err) {
			err = storage.ErrNotFound
		}
		return storage.Validator{}, fmt.Errorf("s3 get validator %s: %w", ref, err)
	}
	defer out.Body.Close()
	src, err := io.ReadAll(io.LimitReader(out.Body, maxValidatorRead+1))
	if err != nil {
		return storage.Validator{}, fmt.Errorf("s3 read validator %s: %w", ref, err)
	}
	if len(src) > maxValidatorRead {
		return storage.Validator{}, fmt.Errorf("s3 validator %s is larger than %d bytes", ref, maxValidatorRead)
	}
	v.Source = src
	return v, nil
}

// DeleteValidator removes the validator's attributes from the package's item, only
// while it has them, then deletes exactly the S3 version they named.
func (s *Store) DeleteValidator(ctx context.Context, name, version string) (storage.Validator, error) {
	pk := contract.PackageKey(name, version)
	names := map[string]string{}
	expr := "REMOVE "
	for i, a := range validatorAttrs {
		n := fmt.Sprintf("#a%d", i)
		names[n] = a
		if i > 0 {
			expr += ", "
		}
		expr += n
	}
	out, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.cfg.Tables.Packages,
		Key:                      item{contract.AttrPackageKey: sAttr(pk)},
		ConditionExpression:      aws.String("attribute_exists(#a0)"),
		UpdateExpression:         aws.String(expr),
		ExpressionAttributeNames: names,
		ReturnValues:             ddbtypes.ReturnValueAllOld,
	})
	if isConditionFailed(err) {
		return storage.Validator{}, fmt.Errorf("validator of %s: %w", pk, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Validator{}, fmt.Errorf("dynamodb remove validator: %w", err)
	}
	v, ref := validatorOf(name, version, out.Attributes)
	s.deleteVersion(ctx, ref)
	return v, nil
}

func validatorOf(name, version string, it item) (storage.Validator, string) {
	return storage.Validator{
		Name: name, Version: version, SHA256: getS(it, contract.AttrValidatorSHA256), Size: getN(it, contract.AttrValidatorSize),
		UpdatedAt: getT(it, contract.AttrValidatorUpdatedAt), UpdatedBy: getS(it, contract.AttrValidatorUpdatedBy),
	}, getS(it, contract.AttrValidatorRef)
}

// deleteVersion removes one S3 version (s3:DeleteObjectVersion), best effort: an
// unreferenced version is never read (every read goes through the recorded ref), so
// a failure only leaves bytes for the bucket's lifecycle.
func (s *Store) deleteVersion(ctx context.Context, ref string) {
	key, ver := splitRef(ref)
	if ver == "" {
		return // an unversioned bucket: the next write replaced it
	}
	_, _ = s.s3.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key, VersionId: &ver})
}
