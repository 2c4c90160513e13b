package awsstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	// attrAccountID is the account's identity on users items and the identity a
	// token was issued to on tokens items.
	attrAccountID   = "account_id"
	attrPermissions = "permissions"
	attrCreatedAt   = "created_at"
	attrUser        = "user"
	attrIssuedAt    = "issued_at"
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
	if u.ID == "" {
		u.ID = storage.NewAccountID()
	}
	return item{
		contract.AttrUserName: sAttr(u.Name),
		attrAccountID:         sAttr(u.ID),
		attrPasswordHash:      sAttr(u.PasswordHash),
		attrPermissions:       &ddbtypes.AttributeValueMemberL{Value: perms},
		attrCreatedAt:         fmtT(u.CreatedAt),
	}
}

func userOf(it item) storage.User {
	u := storage.User{Name: getS(it, contract.AttrUserName), ID: getS(it, attrAccountID), PasswordHash: getS(it, attrPasswordHash), CreatedAt: getT(it, attrCreatedAt), Permissions: []string{}}
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

// UpdateUser is one conditional PutItem: the item is replaced only while it exists
// with the account id ifID (or, for "", without one).
func (s *Store) UpdateUser(ctx context.Context, u storage.User, ifID string) error {
	in := &dynamodb.PutItemInput{
		TableName: &s.cfg.Tables.Users, Item: userItem(u),
		ConditionExpression:      aws.String("attribute_exists(#k) AND attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#k": contract.AttrUserName, "#id": attrAccountID},
	}
	if ifID != "" {
		in.ConditionExpression = aws.String("#id = :id")
		delete(in.ExpressionAttributeNames, "#k")
		in.ExpressionAttributeValues = item{":id": sAttr(ifID)}
	}
	_, err := s.ddb.PutItem(ctx, in)
	if isConditionFailed(err) {
		return fmt.Errorf("user %q with account id %q: %w", u.Name, ifID, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("dynamodb update user: %w", err)
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
	it := item{
		contract.AttrTokenID: sAttr(t.ID),
		attrUser:             sAttr(t.User),
		attrIssuedAt:         fmtT(t.IssuedAt),
		contract.AttrExpiry:  nAttr(t.ExpiresAt.Unix()),
		attrExpiryMillis:     nAttr(t.ExpiresAt.UnixMilli()),
		attrUses:             nAttr(int64(t.Uses)),
		attrMaxUses:          nAttr(int64(t.MaxUses)),
	}
	if t.AccountID != "" {
		it[attrAccountID] = sAttr(t.AccountID)
	}
	return it
}

func tokenOf(it item) storage.Token {
	return storage.Token{
		ID: getS(it, contract.AttrTokenID), User: getS(it, attrUser), AccountID: getS(it, attrAccountID), IssuedAt: getT(it, attrIssuedAt),
		ExpiresAt: time.UnixMilli(getN(it, attrExpiryMillis)).UTC(),
		Uses:      int(getN(it, attrUses)), MaxUses: int(getN(it, attrMaxUses)),
	}
}

// Every lease marks the token item with the holder's attribute attrLeasedByPrefix +
// the Store's holder id, valued the lease's time in Unix milliseconds; giving uses
// back removes the mark. The marks of other holders are what
// storage.Token.LeasedElsewhereAt reports: a process refused for the limit learns
// whether another one may still hold unserved uses. One attribute per registry
// process that leased the token, for the token's life (at most its TTL).
const attrLeasedByPrefix = "leased_by_"

// tokenOf reads a token item as this Store sees it: with the latest mark of another
// holder.
func (s *Store) tokenOf(it item) storage.Token {
	t := tokenOf(it)
	own := s.leaseAttr()
	var latest int64
	for k := range it {
		if k != own && strings.HasPrefix(k, attrLeasedByPrefix) {
			latest = max(latest, getN(it, k))
		}
	}
	if latest > 0 {
		t.LeasedElsewhereAt = time.UnixMilli(latest).UTC()
	}
	return t
}

// leaseAttr is this Store's lease mark.
func (s *Store) leaseAttr() string { return attrLeasedByPrefix + s.holder }

func (s *Store) CreateToken(ctx context.Context, t storage.Token) error {
	if err := s.putNew(ctx, s.cfg.Tables.Tokens, contract.AttrTokenID, tokenItem(t)); err != nil {
		return err
	}
	s.tokenLimits.put(t.ID, t.MaxUses)
	return nil
}

func (s *Store) GetToken(ctx context.Context, id string) (storage.Token, error) {
	it, err := s.get(ctx, s.cfg.Tables.Tokens, contract.AttrTokenID, id)
	if err != nil {
		return storage.Token{}, err
	}
	t := s.tokenOf(it)
	s.tokenLimits.put(id, t.MaxUses)
	return t, nil
}

// LeaseTokenUses is one conditional UpdateItem adding k uses while uses + k <=
// max_uses and the token has not expired, and setting this Store's lease mark.
// Condition expressions have no arithmetic, so for k > 1 the condition is uses <=
// max_uses - k, with max_uses (fixed when the token is created) remembered from an
// earlier answer, or read first when this process has not seen the token; a lease
// of one use is conditioned on uses < max_uses. A failed condition returns the item
// (ReturnValuesOnConditionCheckFailure), which says why: expired, exhausted, or
// fewer than k left, in which case the rest is leased (the partial last block).
func (s *Store) LeaseTokenUses(ctx context.Context, id string, want int, now time.Time) (storage.Token, int, error) {
	want = max(want, 1)
	maxUses, known := s.tokenLimits.get(id)
	if want > 1 && !known {
		t, err := s.GetToken(ctx, id)
		if err != nil {
			return storage.Token{}, 0, err
		}
		maxUses = t.MaxUses
	}
	// Each failed condition either ends the call or means another process leased
	// uses meanwhile, so the loop ends; the bound only guards against a bug.
	for range 64 {
		k := want
		in := &dynamodb.UpdateItemInput{
			TableName:                           &s.cfg.Tables.Tokens,
			Key:                                 item{contract.AttrTokenID: sAttr(id)},
			UpdateExpression:                    aws.String("SET #u = #u + :k, #h = :now"),
			ConditionExpression:                 aws.String("attribute_exists(#k) AND #e > :now AND #u < #m"),
			ExpressionAttributeNames:            map[string]string{"#k": contract.AttrTokenID, "#u": attrUses, "#m": attrMaxUses, "#e": attrExpiryMillis, "#h": s.leaseAttr()},
			ExpressionAttributeValues:           item{":now": nAttr(now.UnixMilli())},
			ReturnValues:                        ddbtypes.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
		}
		if k > 1 {
			in.ConditionExpression = aws.String("attribute_exists(#k) AND #e > :now AND #u <= :lim")
			delete(in.ExpressionAttributeNames, "#m")
			in.ExpressionAttributeValues[":lim"] = nAttr(int64(maxUses - k))
		}
		in.ExpressionAttributeValues[":k"] = nAttr(int64(k))
		out, err := s.ddb.UpdateItem(ctx, in)
		if err == nil {
			t := s.tokenOf(out.Attributes)
			s.tokenLimits.put(id, t.MaxUses)
			return t, k, nil
		}
		var ccf *ddbtypes.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return storage.Token{}, 0, fmt.Errorf("dynamodb lease token uses: %w", err)
		}
		var t storage.Token
		if ccf.Item != nil {
			t = s.tokenOf(ccf.Item)
		} else if t, err = s.GetToken(ctx, id); err != nil { // an answer without the item
			return storage.Token{}, 0, err
		}
		if t.ID == "" {
			return storage.Token{}, 0, fmt.Errorf("%s %q: %w", s.cfg.Tables.Tokens, id, storage.ErrNotFound)
		}
		s.tokenLimits.put(id, t.MaxUses)
		switch left := t.MaxUses - t.Uses; {
		case !now.Before(t.ExpiresAt):
			return storage.Token{}, 0, storage.ErrTokenExpired
		case left <= 0:
			return t, 0, storage.ErrTokenExhausted
		default:
			want, maxUses = min(want, left), t.MaxUses
		}
	}
	return storage.Token{}, 0, fmt.Errorf("dynamodb lease token uses: the token's count kept changing")
}

// ReturnTokenUses is one conditional UpdateItem subtracting n while uses >= n and
// removing this Store's lease mark, sent once: a retry after a lost answer could
// subtract twice and let the uses be served again, while not subtracting only
// forfeits them.
func (s *Store) ReturnTokenUses(ctx context.Context, id string, n int) error {
	if n < 1 {
		return fmt.Errorf("return %d uses of a token: must be at least 1", n)
	}
	_, err := s.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.cfg.Tables.Tokens,
		Key:                       item{contract.AttrTokenID: sAttr(id)},
		UpdateExpression:          aws.String("SET #u = #u - :n REMOVE #h"),
		ConditionExpression:       aws.String("attribute_exists(#k) AND #u >= :n"),
		ExpressionAttributeNames:  map[string]string{"#k": contract.AttrTokenID, "#u": attrUses, "#h": s.leaseAttr()},
		ExpressionAttributeValues: item{":n": nAttr(int64(n))},
	}, func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} })
	if isConditionFailed(err) {
		return fmt.Errorf("return %d uses of token %q: not found or fewer uses counted", n, id)
	}
	if err != nil {
		return fmt.Errorf("dynamodb return token uses: %w", err)
	}
	return nil
}

// tokenLimits remembers the max_uses of tokens this process has seen: it never
// changes, so it can be cached without invalidation; only its size is bounded.
type tokenLimits struct {
	mu sync.Mutex
	m  map[string]int
}

// maxTokenLimits bounds the cache; past it, it starts again empty (a miss costs a
// lease of one use, not correctness).
const maxTokenLimits = 1 << 16

func (c *tokenLimits) get(id string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[id]
	return n, ok
}

func (c *tokenLimits) put(id string, maxUses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxTokenLimits {
		c.m = make(map[string]int)
	}
	c.m[id] = maxUses
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
	for k, v := range map[string]string{contract.AttrRecordUser: r.User, attrSHA256: r.SHA256, attrClientIP: r.ClientIP, attrDetail: r.Detail,
		contract.AttrValidatorOutcome: r.ValidatorOutcome, contract.AttrValidatorSHA256: r.ValidatorSHA256} {
		if v != "" {
			it[k] = sAttr(v)
		}
	}
	if r.Size != 0 {
		it[attrSize] = nAttr(r.Size)
	}
	if r.ValidatorOutcome != "" {
		it[contract.AttrValidatorMillis] = nAttr(r.ValidatorMillis)
	}
	return it
}

func recordOf(it item) storage.TransferRecord {
	return storage.TransferRecord{
		ID: getS(it, contract.AttrRecordID), User: getS(it, contract.AttrRecordUser),
		Name: getS(it, contract.AttrPackageName), Version: getS(it, contract.AttrPackageVersion),
		Outcome: getS(it, attrOutcome), SHA256: getS(it, attrSHA256), Size: getN(it, attrSize),
		At: getT(it, attrAt), ClientIP: getS(it, attrClientIP), Detail: getS(it, attrDetail),
		ValidatorOutcome: getS(it, contract.AttrValidatorOutcome), ValidatorMillis: getN(it, contract.AttrValidatorMillis),
		ValidatorSHA256: getS(it, contract.AttrValidatorSHA256),
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
