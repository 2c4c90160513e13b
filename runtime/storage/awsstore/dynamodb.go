package awsstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
)

// Attributes of the items beyond the tables' keys (contract.Attr*), which
// only this package reads and writes.
const (
	attrPasswordHash = "password_hash"
	attrPermissions  = "permissions"
	attrCreatedAt    = "created_at"
	attrUser         = "user"
	attrIssuedAt     = "issued_at"
	// attrExpiryMillis is the expiry in Unix milliseconds, next to the TTL
	// attribute contract.AttrExpiry in seconds: conditions compare it, so
	// expiry is exact rather than rounded to the second.
	attrExpiryMillis = "exp_ms"
	attrUses         = "uses"
	attrMaxUses      = "max_uses"
	attrSHA256       = "sha256_hash"
	attrSize         = "size"
	attrUploadedAt   = "uploaded_at"
	attrUploader     = "uploader"
	attrBlobKey      = "blob_key"
	attrS3Checksum   = "s3_checksum_sha256"
	attrAt           = "at"
	attrOutcome      = "outcome"
	attrClientIP     = "client_ip"
	attrDetail       = "detail"
	// attrKind tells the two kinds of item in the uploads table apart.
	attrKind = "kind"
)

// ---------------------------------------------------------------- helpers

type item = map[string]ddbtypes.AttributeValue

func sAttr(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
func nAttr(v int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getS(it item, k string) string {
	if v, ok := it[k].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, k string) int64 {
	if v, ok := it[k].(*ddbtypes.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func getT(it item, k string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, getS(it, k))
	return t
}

func fmtT(t time.Time) ddbtypes.AttributeValue { return sAttr(t.UTC().Format(time.RFC3339Nano)) }

func isConditionFailed(err error) bool {
	var ccf *ddbtypes.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func (s *Store) get(ctx context.Context, table, keyName, key string) (item, error) {
	out, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: item{keyName: sAttr(key)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("dynamodb get %s from %s: %w", key, table, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%s %q: %w", table, key, storage.ErrNotFound)
	}
	return out.Item, nil
}

func (s *Store) putNew(ctx context.Context, table, keyName string, it item) error {
	_, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &table,
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": keyName},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("%s %q: %w", table, getS(it, keyName), storage.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("dynamodb put into %s: %w", table, err)
	}
	return nil
}

func (s *Store) scan(ctx context.Context, in *dynamodb.ScanInput) ([]item, error) {
	var items []item
	p := dynamodb.NewScanPaginator(s.ddb, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("dynamodb scan %s: %w", aws.ToString(in.TableName), err)
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

// ---------------------------------------------------------------- users

func userItem(u storage.User) item {
	perms := make([]ddbtypes.AttributeValue, len(u.Permissions))
	for i, p := range u.Permissions {
		perms[i] = sAttr(p)
	}
	return item{
		contract.AttrUserName: sAttr(u.Name),
		attrPasswordHash:      sAttr(u.PasswordHash),
		attrPermissions:       &ddbtypes.AttributeValueMemberL{Value: perms},
		attrCreatedAt:         fmtT(u.CreatedAt),
	}
}

func userOf(it item) storage.User {
	u := storage.User{Name: getS(it, contract.AttrUserName), PasswordHash: getS(it, attrPasswordHash), CreatedAt: getT(it, attrCreatedAt), Permissions: []string{}}
	if l, ok := it[attrPermissions].(*ddbtypes.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if sv, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
				u.Permissions = append(u.Permissions, sv.Value)
			}
		}
	}
	return u
}

func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	return s.putNew(ctx, s.cfg.Tables.Users, contract.AttrUserName, userItem(u))
}

func (s *Store) PutUser(ctx context.Context, u storage.User) error {
	if _, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.cfg.Tables.Users, Item: userItem(u)}); err != nil {
		return fmt.Errorf("dynamodb put user: %w", err)
	}
	return nil
}

func (s *Store) GetUser(ctx context.Context, name string) (storage.User, error) {
	it, err := s.get(ctx, s.cfg.Tables.Users, contract.AttrUserName, name)
	if err != nil {
		return storage.User{}, err
	}
	return userOf(it), nil
}

func (s *Store) DeleteUser(ctx context.Context, name string) error {
	_, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.cfg.Tables.Users, Key: item{contract.AttrUserName: sAttr(name)},
		ConditionExpression: aws.String("attribute_exists(#k)"), ExpressionAttributeNames: map[string]string{"#k": contract.AttrUserName},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("user %q: %w", name, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("dynamodb delete user: %w", err)
	}
	return nil
}

func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	items, err := s.scan(ctx, &dynamodb.ScanInput{TableName: &s.cfg.Tables.Users, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	users := make([]storage.User, 0, len(items))
	for _, it := range items {
		users = append(users, userOf(it))
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	return users, nil
}

// ---------------------------------------------------------------- tokens

// Token items keep the TTL attribute (Unix seconds) and attrExpiryMillis,
// what the use condition compares.
func tokenItem(t storage.Token) item {
	return item{
		contract.AttrTokenID: sAttr(t.ID),
		attrUser:             sAttr(t.User),
		attrIssuedAt:         fmtT(t.IssuedAt),
		contract.AttrExpiry:  nAttr(t.ExpiresAt.Unix()),
		attrExpiryMillis:     nAttr(t.ExpiresAt.UnixMilli()),
		attrUses:             nAttr(int64(t.Uses)),
		attrMaxUses:          nAttr(int64(t.MaxUses)),
	}
}

func tokenOf(it item) storage.Token {
	return storage.Token{
		ID: getS(it, contract.AttrTokenID), User: getS(it, attrUser), IssuedAt: getT(it, attrIssuedAt),
		ExpiresAt: time.UnixMilli(getN(it, attrExpiryMillis)).UTC(),
		Uses:      int(getN(it, attrUses)), MaxUses: int(getN(it, attrMaxUses)),
	}
}

func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	return s.putNew(ctx, s.cfg.Tables.Tokens, contract.AttrTokenID, tokenItem(t))
}

func (s *Store) GetToken(ctx context.Context, id string) (storage.Token, error) {
	it, err := s.get(ctx, s.cfg.Tables.Tokens, contract.AttrTokenID, id)
	if err != nil {
		return storage.Token{}, err
	}
	return tokenOf(it), nil
}

// UseToken is one conditional UpdateItem: the increment happens only while
// uses < max_uses and the token has not expired. When the condition fails,
// the item is read to say why.
func (s *Store) UseToken(ctx context.Context, id string, now time.Time) (storage.Token, error) {
	out, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.cfg.Tables.Tokens,
		Key:                       item{contract.AttrTokenID: sAttr(id)},
		UpdateExpression:          aws.String("SET #u = #u + :one"),
		ConditionExpression:       aws.String("attribute_exists(#k) AND #u < #m AND #e > :now"),
		ExpressionAttributeNames:  map[string]string{"#k": contract.AttrTokenID, "#u": attrUses, "#m": attrMaxUses, "#e": attrExpiryMillis},
		ExpressionAttributeValues: item{":one": nAttr(1), ":now": nAttr(now.UnixMilli())},
		ReturnValues:              ddbtypes.ReturnValueAllNew,
	})
	if err == nil {
		return tokenOf(out.Attributes), nil
	}
	if !isConditionFailed(err) {
		return storage.Token{}, fmt.Errorf("dynamodb use token: %w", err)
	}
	t, gerr := s.GetToken(ctx, id)
	switch {
	case gerr != nil:
		return storage.Token{}, gerr
	case !now.Before(t.ExpiresAt):
		return storage.Token{}, storage.ErrTokenExpired
	default:
		return storage.Token{}, storage.ErrTokenExhausted
	}
}

// ---------------------------------------------------------------- packages

func packageItem(p storage.Package) item {
	it := item{
		contract.AttrPackageKey:     sAttr(contract.PackageKey(p.Name, p.Version)),
		contract.AttrPackageName:    sAttr(p.Name),
		contract.AttrPackageVersion: sAttr(p.Version),
		attrSHA256:                  sAttr(p.SHA256),
		attrSize:                    nAttr(p.Size),
		attrUploadedAt:              fmtT(p.UploadedAt),
		attrUploader:                sAttr(p.Uploader),
		attrBlobKey:                 sAttr(p.BlobKey),
	}
	if p.BlobChecksum != "" {
		it[attrS3Checksum] = sAttr(p.BlobChecksum)
	}
	return it
}

func packageOf(it item) storage.Package {
	return storage.Package{
		Name: getS(it, contract.AttrPackageName), Version: getS(it, contract.AttrPackageVersion), SHA256: getS(it, attrSHA256), Size: getN(it, attrSize),
		UploadedAt: getT(it, attrUploadedAt), Uploader: getS(it, attrUploader), BlobKey: getS(it, attrBlobKey),
		BlobChecksum: getS(it, attrS3Checksum),
	}
}

func (s *Store) CreatePackage(ctx context.Context, p storage.Package) error {
	return s.putNew(ctx, s.cfg.Tables.Packages, contract.AttrPackageKey, packageItem(p))
}

func (s *Store) GetPackage(ctx context.Context, name, version string) (storage.Package, error) {
	it, err := s.get(ctx, s.cfg.Tables.Packages, contract.AttrPackageKey, contract.PackageKey(name, version))
	if err != nil {
		return storage.Package{}, err
	}
	return packageOf(it), nil
}

// ListPackages queries the by-name index for one name, otherwise scans the
// table; pages are cut after sorting by package key.
func (s *Store) ListPackages(ctx context.Context, opts storage.ListOptions) ([]storage.Package, int, error) {
	var items []item
	if opts.Name != "" {
		p := dynamodb.NewQueryPaginator(s.ddb, &dynamodb.QueryInput{
			TableName: &s.cfg.Tables.Packages, IndexName: aws.String(contract.IndexPackagesByName),
			KeyConditionExpression:    aws.String("#n = :n"),
			ExpressionAttributeNames:  map[string]string{"#n": contract.AttrPackageName},
			ExpressionAttributeValues: item{":n": sAttr(opts.Name)},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, 0, fmt.Errorf("dynamodb query packages %s: %w", contract.IndexPackagesByName, err)
			}
			items = append(items, out.Items...)
		}
	} else {
		var err error
		if items, err = s.scan(ctx, &dynamodb.ScanInput{TableName: &s.cfg.Tables.Packages, ConsistentRead: aws.Bool(true)}); err != nil {
			return nil, 0, err
		}
	}
	pkgs := make([]storage.Package, 0, len(items))
	for _, it := range items {
		pkgs = append(pkgs, packageOf(it))
	}
	sort.Slice(pkgs, func(i, j int) bool {
		return contract.PackageKey(pkgs[i].Name, pkgs[i].Version) < contract.PackageKey(pkgs[j].Name, pkgs[j].Version)
	})
	total := len(pkgs)
	if opts.Offset >= total {
		return []storage.Package{}, total, nil
	}
	end := min(total, opts.Offset+opts.Limit)
	return pkgs[opts.Offset:end], total, nil
}

func (s *Store) DeletePackage(ctx context.Context, name, version string) (storage.Package, error) {
	key := contract.PackageKey(name, version)
	out, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.cfg.Tables.Packages, Key: item{contract.AttrPackageKey: sAttr(key)},
		ConditionExpression:      aws.String("attribute_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": contract.AttrPackageKey},
		ReturnValues:             ddbtypes.ReturnValueAllOld,
	})
	if isConditionFailed(err) {
		return storage.Package{}, fmt.Errorf("package %s: %w", key, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Package{}, fmt.Errorf("dynamodb delete package: %w", err)
	}
	return packageOf(out.Attributes), nil
}

// ---------------------------------------------------------------- audit records

// The uploads table holds both audit records (kind "record", no TTL
// attribute) and pending presigned uploads (kind "pending", with the TTL
// attribute).
const (
	kindRecord  = "record"
	kindPending = "pending"
)

func recordItem(r storage.TransferRecord) item {
	it := item{
		contract.AttrRecordID: sAttr(r.ID), contract.AttrRecordTime: nAttr(r.At.UnixMilli()), attrAt: fmtT(r.At),
		contract.AttrPackageName: sAttr(r.Name), contract.AttrPackageVersion: sAttr(r.Version), attrOutcome: sAttr(r.Outcome),
	}
	// Key attributes of the by-user index cannot be empty strings: records
	// of unauthenticated callers omit the user (sparse index).
	for k, v := range map[string]string{contract.AttrRecordUser: r.User, attrSHA256: r.SHA256, attrClientIP: r.ClientIP, attrDetail: r.Detail} {
		if v != "" {
			it[k] = sAttr(v)
		}
	}
	if r.Size != 0 {
		it[attrSize] = nAttr(r.Size)
	}
	return it
}

func recordOf(it item) storage.TransferRecord {
	return storage.TransferRecord{
		ID: getS(it, contract.AttrRecordID), User: getS(it, contract.AttrRecordUser),
		Name: getS(it, contract.AttrPackageName), Version: getS(it, contract.AttrPackageVersion),
		Outcome: getS(it, attrOutcome), SHA256: getS(it, attrSHA256), Size: getN(it, attrSize),
		At: getT(it, attrAt), ClientIP: getS(it, attrClientIP), Detail: getS(it, attrDetail),
	}
}

func (s *Store) RecordUpload(ctx context.Context, r storage.TransferRecord) error {
	it := recordItem(r)
	it[attrKind] = sAttr(kindRecord)
	return s.putNew(ctx, s.cfg.Tables.Uploads, contract.AttrRecordID, it)
}

func (s *Store) RecordDownload(ctx context.Context, r storage.TransferRecord) error {
	return s.putNew(ctx, s.cfg.Tables.Downloads, contract.AttrRecordID, recordItem(r))
}

func (s *Store) listRecords(ctx context.Context, in *dynamodb.ScanInput) ([]storage.TransferRecord, error) {
	items, err := s.scan(ctx, in)
	if err != nil {
		return nil, err
	}
	recs := make([]storage.TransferRecord, 0, len(items))
	for _, it := range items {
		recs = append(recs, recordOf(it))
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].At.Equal(recs[j].At) {
			return recs[i].At.Before(recs[j].At)
		}
		return recs[i].ID < recs[j].ID
	})
	return recs, nil
}

// kindIs is the condition "the item's kind is kind".
func kindIs(kind string) (*string, map[string]string, item) {
	return aws.String("#kind = :kind"), map[string]string{"#kind": attrKind}, item{":kind": sAttr(kind)}
}

func (s *Store) ListUploads(ctx context.Context) ([]storage.TransferRecord, error) {
	cond, names, values := kindIs(kindRecord)
	return s.listRecords(ctx, &dynamodb.ScanInput{
		TableName: &s.cfg.Tables.Uploads, ConsistentRead: aws.Bool(true),
		FilterExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
}

func (s *Store) ListDownloads(ctx context.Context) ([]storage.TransferRecord, error) {
	return s.listRecords(ctx, &dynamodb.ScanInput{TableName: &s.cfg.Tables.Downloads, ConsistentRead: aws.Bool(true)})
}

// ---------------------------------------------------------------- pending uploads

func (s *Store) CreatePendingUpload(ctx context.Context, u storage.PendingUpload) error {
	return s.putNew(ctx, s.cfg.Tables.Uploads, contract.AttrRecordID, item{
		contract.AttrRecordID: sAttr(u.ID), attrKind: sAttr(kindPending),
		contract.AttrPackageName: sAttr(u.Name), contract.AttrPackageVersion: sAttr(u.Version),
		attrUser: sAttr(u.User), attrSHA256: sAttr(u.SHA256), attrSize: nAttr(u.Size), attrBlobKey: sAttr(u.Key),
		contract.AttrExpiry: nAttr(u.ExpiresAt.Unix()), attrExpiryMillis: nAttr(u.ExpiresAt.UnixMilli()),
		contract.AttrRecordTime: nAttr(time.Now().UnixMilli()),
	})
}

// GetPendingUpload treats an expired item as absent: DynamoDB's TTL deletes
// items only eventually.
func (s *Store) GetPendingUpload(ctx context.Context, id string) (storage.PendingUpload, error) {
	it, err := s.get(ctx, s.cfg.Tables.Uploads, contract.AttrRecordID, id)
	if err != nil {
		return storage.PendingUpload{}, err
	}
	u := storage.PendingUpload{
		ID: id, Name: getS(it, contract.AttrPackageName), Version: getS(it, contract.AttrPackageVersion), User: getS(it, attrUser),
		SHA256: getS(it, attrSHA256), Size: getN(it, attrSize), Key: getS(it, attrBlobKey),
		ExpiresAt: time.UnixMilli(getN(it, attrExpiryMillis)).UTC(),
	}
	if getS(it, attrKind) != kindPending || !time.Now().Before(u.ExpiresAt) {
		return storage.PendingUpload{}, fmt.Errorf("pending upload %q: %w", id, storage.ErrNotFound)
	}
	return u, nil
}

func (s *Store) DeletePendingUpload(ctx context.Context, id string) error {
	cond, names, values := kindIs(kindPending)
	_, err := s.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.cfg.Tables.Uploads, Key: item{contract.AttrRecordID: sAttr(id)},
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamodb delete pending upload: %w", err)
	}
	return nil
}
