package policy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Call is one request AWS authorizes: who asks for what on which resource, with the
// request context AWS would set.
type Call struct {
	Principal string // a role ARN or a service principal such as cloudtrail.amazonaws.com
	Action    string // service:Operation as IAM names it
	Resource  string // the resource's ARN
	Context   map[string][]string
	// Why says what made the call, for messages.
	Why string
}

func (c Call) String() string {
	keys := make([]string, 0, len(c.Context))
	for k := range c.Context {
		keys = append(keys, k+"="+strings.Join(c.Context[k], ","))
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s %s on %s [%s] (%s)", c.Principal, c.Action, c.Resource, strings.Join(keys, " "), c.Why)
}

// Env is what the mapping from requests to calls needs to know of the deployment.
type Env struct {
	Partition, Region, Account string
	// Principal makes every recorded request (the task role: the runtime, and the
	// presigned URLs it signs).
	Principal string
	// BucketKeys maps each bucket to its default SSE-KMS key ARN.
	BucketKeys map[string]string
	// TableKeys maps each table name to the KMS key ARN it is encrypted with.
	TableKeys map[string]string
	// Secrets maps secret names to ARNs (callers may name a secret either way) and
	// SecretKeys each secret ARN to its key ARN.
	Secrets    map[string]string
	SecretKeys map[string]string
}

func (e Env) arn(service, resource string) string {
	return "arn:" + e.Partition + ":" + service + ":" + e.Region + ":" + e.Account + ":" + resource
}

func (e Env) via(service string) string { return service + "." + e.Region + ".amazonaws.com" }

// Calls maps recorded requests to the calls AWS authorizes, the KMS calls the services
// make on the caller's behalf included. Over HTTPS, as on AWS, aws:SecureTransport is
// true (the emulator is plain HTTP; the deny matrix checks what HTTP would get). A request
// it cannot map is an error: every call must be accounted for.
func (e Env) Calls(reqs []Request) ([]Call, error) {
	var out []Call
	var errs []string
	for _, r := range reqs {
		var calls []Call
		var err error
		switch r.Service() {
		case "s3":
			calls, err = e.s3Calls(r)
		case "dynamodb":
			calls, err = e.dynamoDBCalls(r)
		case "secretsmanager":
			calls, err = e.secretsManagerCalls(r)
		default:
			err = fmt.Errorf("no mapping for service %q", r.Service())
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %s: %v", r.Method, r.URL.RequestURI(), err))
			continue
		}
		for i := range calls {
			calls[i].Principal = e.Principal
			if calls[i].Context == nil {
				calls[i].Context = map[string][]string{}
			}
			calls[i].Context["aws:SecureTransport"] = []string{"true"}
		}
		out = append(out, calls...)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("unmapped requests:\n  %s", strings.Join(errs, "\n  "))
	}
	return out, nil
}

// s3Calls maps a path-style S3 request (the runtime's, or one sent to a URL it presigned).
func (e Env) s3Calls(r Request) ([]Call, error) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket == "" {
		return nil, fmt.Errorf("no bucket in the path")
	}
	q := r.URL.Query()
	bucketArn := "arn:" + e.Partition + ":s3:::" + bucket
	objectArn := bucketArn + "/" + key
	why := fmt.Sprintf("%s %s", r.Method, r.URL.Path)
	if r.Presigned() {
		why = "presigned " + why
	}
	call := func(action, resource string) Call {
		c := Call{Action: action, Resource: resource, Context: map[string][]string{}, Why: why}
		for _, h := range []string{"x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-acl"} {
			if v := r.Header.Get(h); v != "" {
				c.Context["s3:"+h] = []string{v}
			} else if v := q.Get(h); v != "" { // signed into a presigned URL
				c.Context["s3:"+h] = []string{v}
			}
		}
		return c
	}
	// The KMS call S3 makes with the caller's permissions; the bucket key makes the
	// bucket's ARN the encryption context.
	kmsCall := func(action string) (Call, error) {
		keyArn := r.Header.Get("x-amz-server-side-encryption-aws-kms-key-id")
		if keyArn == "" {
			keyArn = q.Get("x-amz-server-side-encryption-aws-kms-key-id")
		}
		if keyArn == "" {
			keyArn = e.BucketKeys[bucket]
		}
		if keyArn == "" {
			return Call{}, fmt.Errorf("bucket %s has no known key", bucket)
		}
		return Call{Action: action, Resource: keyArn, Why: "S3 for " + why, Context: map[string][]string{
			"kms:ViaService":                   {e.via("s3")},
			"kms:CallerAccount":                {e.Account},
			"kms:EncryptionContext:aws:s3:arn": {bucketArn},
		}}, nil
	}
	version := q.Has("versionId")
	var calls []Call
	var kms string
	switch {
	case key == "" && r.Method == http.MethodGet && q.Has("list-type"):
		c := call("s3:ListBucket", bucketArn)
		if p := q.Get("prefix"); p != "" {
			c.Context["s3:prefix"] = []string{p}
		}
		calls = append(calls, c)
	case key == "":
		return nil, fmt.Errorf("no mapping for bucket-level %s", r.Method)
	case r.Method == http.MethodPost && q.Has("uploads"):
		calls, kms = append(calls, call("s3:PutObject", objectArn)), "kms:GenerateDataKey" // CreateMultipartUpload
	case r.Method == http.MethodPut && q.Has("uploadId"):
		calls, kms = append(calls, call("s3:PutObject", objectArn)), "kms:Decrypt" // UploadPart: the upload's data key
	case r.Method == http.MethodPost && q.Has("uploadId"):
		calls, kms = append(calls, call("s3:PutObject", objectArn)), "kms:Decrypt" // CompleteMultipartUpload reads the parts
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		calls = append(calls, call("s3:AbortMultipartUpload", objectArn))
	case r.Method == http.MethodGet && q.Has("uploadId"):
		calls = append(calls, call("s3:ListMultipartUploadParts", objectArn))
	case r.Method == http.MethodPut:
		calls, kms = append(calls, call("s3:PutObject", objectArn)), "kms:GenerateDataKey"
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		action := "s3:GetObject"
		if version {
			action = "s3:GetObjectVersion"
		}
		calls = append(calls, call(action, objectArn))
		if r.Method == http.MethodGet {
			kms = "kms:Decrypt"
		}
	case r.Method == http.MethodDelete:
		action := "s3:DeleteObject"
		if version {
			action = "s3:DeleteObjectVersion"
		}
		calls = append(calls, call(action, objectArn))
	default:
		return nil, fmt.Errorf("no mapping for object %s", r.Method)
	}
	if kms != "" {
		c, err := kmsCall(kms)
		if err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// dynamoDBCalls maps a DynamoDB JSON request. DynamoDB decrypts the table key with the
// caller's kms:Decrypt (and caches it for a few minutes), for reads and writes alike.
func (e Env) dynamoDBCalls(r Request) ([]Call, error) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	if !ok {
		return nil, fmt.Errorf("unknown target %q", r.Header.Get("X-Amz-Target"))
	}
	var body struct {
		TableName    string
		IndexName    string
		RequestItems map[string]json.RawMessage
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return nil, fmt.Errorf("%s body: %v", op, err)
	}
	tables := []string{body.TableName}
	if body.TableName == "" {
		tables = tables[:0]
		for t := range body.RequestItems {
			tables = append(tables, t)
		}
		sort.Strings(tables)
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("%s names no table", op)
	}
	var calls []Call
	for _, t := range tables {
		resource := e.arn("dynamodb", "table/"+t)
		if body.IndexName != "" {
			resource += "/index/" + body.IndexName
		}
		calls = append(calls, Call{Action: "dynamodb:" + op, Resource: resource, Why: op + " on " + t})
		key := e.TableKeys[t]
		if key == "" {
			return nil, fmt.Errorf("table %s has no known key", t)
		}
		calls = append(calls, Call{Action: "kms:Decrypt", Resource: key, Why: "DynamoDB for " + op + " on " + t, Context: map[string][]string{
			"kms:ViaService":    {e.via("dynamodb")},
			"kms:CallerAccount": {e.Account},
			"kms:EncryptionContext:aws:dynamodb:tableName":    {t},
			"kms:EncryptionContext:aws:dynamodb:subscriberId": {e.Account},
		}})
	}
	return calls, nil
}

// secretsManagerCalls maps a Secrets Manager JSON request; reading a value makes Secrets
// Manager decrypt it with the caller's kms:Decrypt, writing one generate a data key.
func (e Env) secretsManagerCalls(r Request) ([]Call, error) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	if !ok {
		return nil, fmt.Errorf("unknown target %q", r.Header.Get("X-Amz-Target"))
	}
	var body struct{ SecretId string }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return nil, fmt.Errorf("%s body: %v", op, err)
	}
	arn := body.SecretId
	if !strings.HasPrefix(arn, "arn:") {
		arn = e.Secrets[body.SecretId]
	}
	if arn == "" {
		return nil, fmt.Errorf("%s of unknown secret %q", op, body.SecretId)
	}
	calls := []Call{{Action: "secretsmanager:" + op, Resource: arn, Why: op + " of " + body.SecretId}}
	kms := map[string]string{"GetSecretValue": "kms:Decrypt", "PutSecretValue": "kms:GenerateDataKey"}[op]
	if kms != "" {
		calls = append(calls, Call{Action: kms, Resource: e.SecretKeys[arn], Why: "Secrets Manager for " + op, Context: map[string][]string{
			"kms:ViaService":                  {e.via("secretsmanager")},
			"kms:CallerAccount":               {e.Account},
			"kms:EncryptionContext:SecretARN": {arn},
		}})
	}
	return calls, nil
}
