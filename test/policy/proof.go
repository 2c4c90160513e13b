package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Facts are the deployed registry's names, as the proof needs them.
type Facts struct {
	Env
	TaskRole, ExecutionRole string // role ARNs
	KeyArn                  string
	ArtifactsBucket         string
	LogBucket               string // the trail's log bucket
	TrailArn                string
	TrailLogRole            string // ARN of the role CloudTrail assumes to write to its log group
	TrailLogGroup           string // log group ARNs
	ContainerLogGroup       string
	ContainerName           string // the awslogs stream prefix
	Cluster                 string
	RepositoryArn           string
	JWTSecretArn            string
	AdminSecretArn          string
	Tables                  []string // table names
}

// Expectation is a call whose decision is stated in advance.
type Expectation struct {
	Call
	// Allowed is the decision AWS must reach.
	Allowed bool
}

// ServiceCalls are the calls AWS services make for the stack, which no recording sees:
// ECS assuming the roles, pulling the image, writing logs and reading the secrets with
// the execution role; CloudTrail checking and writing its log bucket, using the key and
// assuming its log role; CloudWatch Logs using the key for exactly the stack's log groups.
func (f Facts) ServiceCalls() []Call {
	task := f.arn("ecs", "task/"+f.Cluster+"/0123456789abcdef0123456789abcdef")
	ecs := map[string][]string{"aws:SourceAccount": {f.Account}, "aws:SourceArn": {task}}
	calls := []Call{
		{Principal: "ecs-tasks.amazonaws.com", Action: "sts:AssumeRole", Resource: f.TaskRole, Context: ecs, Why: "ECS starts a task with the task role"},
		{Principal: "ecs-tasks.amazonaws.com", Action: "sts:AssumeRole", Resource: f.ExecutionRole, Context: ecs, Why: "ECS starts a task with the execution role"},
		{Principal: f.ExecutionRole, Action: "ecr:GetAuthorizationToken", Resource: "*", Why: "the ECS agent logs in to ECR"},
	}
	for _, a := range []string{"ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"} {
		calls = append(calls, Call{Principal: f.ExecutionRole, Action: a, Resource: f.RepositoryArn, Why: "the ECS agent pulls the image"})
	}
	stream := f.ContainerLogGroup + ":log-stream:" + f.ContainerName + "/" + f.ContainerName + "/0123456789abcdef0123456789abcdef"
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		calls = append(calls, Call{Principal: f.ExecutionRole, Action: a, Resource: stream, Why: "awslogs writes the container's output"})
	}
	for _, secret := range []string{f.JWTSecretArn, f.AdminSecretArn} {
		calls = append(calls,
			Call{Principal: f.ExecutionRole, Action: "secretsmanager:GetSecretValue", Resource: secret, Why: "ECS injects the task definition's secrets"},
			Call{Principal: f.ExecutionRole, Action: "kms:Decrypt", Resource: f.KeyArn, Why: "Secrets Manager decrypts an injected secret",
				Context: map[string][]string{"kms:ViaService": {f.via("secretsmanager")}, "kms:CallerAccount": {f.Account}, "kms:EncryptionContext:SecretARN": {secret}}})
	}
	trail := map[string][]string{"aws:SourceArn": {f.TrailArn}, "aws:SourceAccount": {f.Account}}
	logObject := "arn:" + f.Partition + ":s3:::" + f.LogBucket + "/AWSLogs/" + f.Account + "/CloudTrail/" + f.Region + "/2026/12/01/" + f.Account + "_CloudTrail_" + f.Region + "_20261201T0000Z_x.json.gz"
	calls = append(calls,
		Call{Principal: "cloudtrail.amazonaws.com", Action: "s3:GetBucketAcl", Resource: "arn:" + f.Partition + ":s3:::" + f.LogBucket, Context: trail, Why: "CloudTrail checks its log bucket"},
		Call{Principal: "cloudtrail.amazonaws.com", Action: "s3:PutObject", Resource: logObject, Why: "CloudTrail delivers a log file",
			Context: with(trail, map[string][]string{"s3:x-amz-acl": {"bucket-owner-full-control"}, "aws:SecureTransport": {"true"},
				"s3:x-amz-server-side-encryption": {"aws:kms"}, "s3:x-amz-server-side-encryption-aws-kms-key-id": {f.KeyArn}})},
		Call{Principal: "cloudtrail.amazonaws.com", Action: "kms:GenerateDataKey", Resource: f.KeyArn, Why: "CloudTrail encrypts a log file",
			Context: with(trail, map[string][]string{"kms:EncryptionContext:aws:cloudtrail:arn": {f.TrailArn}})},
		Call{Principal: "cloudtrail.amazonaws.com", Action: "kms:DescribeKey", Resource: f.KeyArn, Context: trail, Why: "CloudTrail validates its key"},
		Call{Principal: "cloudtrail.amazonaws.com", Action: "sts:AssumeRole", Resource: f.TrailLogRole, Context: trail, Why: "CloudTrail assumes its log role"},
	)
	trailStream := f.TrailLogGroup + ":log-stream:" + f.Account + "_CloudTrail_" + f.Region
	for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
		calls = append(calls, Call{Principal: f.TrailLogRole, Action: a, Resource: trailStream, Why: "CloudTrail writes events to its log group"})
	}
	for _, group := range []string{f.TrailLogGroup, f.ContainerLogGroup} {
		for _, a := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
			calls = append(calls, Call{Principal: "logs." + f.Region + ".amazonaws.com", Action: a, Resource: f.KeyArn, Why: "CloudWatch Logs encrypts and reads " + group,
				Context: map[string][]string{"kms:EncryptionContext:aws:logs:arn": {group}}})
		}
	}
	return calls
}

// DenyMatrix are calls that must be refused: what a compromised task, a misused
// execution role or a misdirected service would try.
func (f Facts) DenyMatrix() []Call {
	bucket := "arn:" + f.Partition + ":s3:::" + f.ArtifactsBucket
	object := bucket + "/packages/acme-lib/1.0.0/package.zip"
	https := map[string][]string{"aws:SecureTransport": {"true"}}
	otherTrail := f.arn("cloudtrail", "trail/someone-elses-trail")
	otherKey := f.arn("kms", "key/00000000-0000-0000-0000-000000000000")
	calls := []Call{
		{Principal: f.TaskRole, Action: "cloudtrail:StopLogging", Resource: f.TrailArn, Why: "the task stops the audit trail"},
		{Principal: f.TaskRole, Action: "cloudtrail:DeleteTrail", Resource: f.TrailArn, Why: "the task deletes the audit trail"},
		{Principal: f.TaskRole, Action: "secretsmanager:GetSecretValue", Resource: f.AdminSecretArn, Why: "the task reads the admin password"},
		{Principal: f.TaskRole, Action: "secretsmanager:PutSecretValue", Resource: f.JWTSecretArn, Why: "the task replaces the signing secret"},
		{Principal: f.TaskRole, Action: "s3:PutObject", Resource: "arn:" + f.Partition + ":s3:::" + f.LogBucket + "/AWSLogs/" + f.Account + "/forged.json.gz", Context: https, Why: "the task writes the trail's log bucket"},
		{Principal: f.TaskRole, Action: "kms:Decrypt", Resource: f.KeyArn, Why: "the task decrypts through another service",
			Context: map[string][]string{"kms:ViaService": {f.via("sqs")}, "kms:CallerAccount": {f.Account}}},
		{Principal: f.TaskRole, Action: "kms:Decrypt", Resource: f.KeyArn, Context: map[string][]string{"kms:CallerAccount": {f.Account}}, Why: "the task decrypts directly"},
		{Principal: f.TaskRole, Action: "s3:PutObject", Resource: object, Why: "the task uploads under SSE-S3",
			Context: with(https, map[string][]string{"s3:x-amz-server-side-encryption": {"AES256"}})},
		{Principal: f.TaskRole, Action: "s3:PutObject", Resource: object, Why: "the task uploads under another key",
			Context: with(https, map[string][]string{"s3:x-amz-server-side-encryption": {"aws:kms"}, "s3:x-amz-server-side-encryption-aws-kms-key-id": {otherKey}})},
		{Principal: f.TaskRole, Action: "s3:GetObjectVersion", Resource: object, Context: map[string][]string{"aws:SecureTransport": {"false"}}, Why: "the task reads over plain HTTP"},
		{Principal: f.TaskRole, Action: "s3:GetObject", Resource: bucket + "/other/notes.txt", Context: https, Why: "the task reads outside its prefixes"},
		{Principal: f.TaskRole, Action: "s3:DeleteObjectVersion", Resource: bucket + "/other/notes.txt", Context: https, Why: "the task destroys versions outside its prefixes"},
		{Principal: f.TaskRole, Action: "s3:DeleteObjectVersion", Resource: "arn:" + f.Partition + ":s3:::" + f.LogBucket + "/AWSLogs/" + f.Account + "/x.json.gz", Context: https, Why: "the task destroys audit log files"},
		{Principal: f.TaskRole, Action: "s3:DeleteObject", Resource: object, Context: https, Why: "the task hides a package behind a delete marker"},
		{Principal: f.TaskRole, Action: "s3:PutBucketPolicy", Resource: bucket, Context: https, Why: "the task rewrites the bucket policy"},
		{Principal: f.ExecutionRole, Action: "s3:GetObjectVersion", Resource: object, Context: https, Why: "the execution role reads packages"},
		{Principal: f.ExecutionRole, Action: "secretsmanager:GetSecretValue", Resource: f.arn("secretsmanager", "secret:another-teams-secret-AbCdEf"), Why: "the execution role reads another secret"},
		{Principal: f.ExecutionRole, Action: "logs:PutLogEvents", Resource: f.TrailLogGroup + ":log-stream:" + f.Account + "_CloudTrail_" + f.Region, Why: "the execution role writes the audit log group"},
		{Principal: f.ExecutionRole, Action: "dynamodb:GetItem", Resource: f.arn("dynamodb", "table/"+f.Tables[0]), Why: "the execution role reads a table"},
		{Principal: "cloudtrail.amazonaws.com", Action: "s3:PutObject", Resource: "arn:" + f.Partition + ":s3:::" + f.LogBucket + "/elsewhere/x.json.gz", Why: "CloudTrail writes outside its prefix",
			Context: map[string][]string{"aws:SourceArn": {f.TrailArn}, "s3:x-amz-acl": {"bucket-owner-full-control"}, "aws:SecureTransport": {"true"}}},
		{Principal: "cloudtrail.amazonaws.com", Action: "s3:PutObject", Resource: "arn:" + f.Partition + ":s3:::" + f.LogBucket + "/AWSLogs/" + f.Account + "/x.json.gz", Why: "another trail writes the log bucket",
			Context: map[string][]string{"aws:SourceArn": {otherTrail}, "s3:x-amz-acl": {"bucket-owner-full-control"}, "aws:SecureTransport": {"true"}}},
		{Principal: "cloudtrail.amazonaws.com", Action: "kms:GenerateDataKey", Resource: f.KeyArn, Why: "another trail uses the key",
			Context: map[string][]string{"aws:SourceArn": {otherTrail}, "kms:EncryptionContext:aws:cloudtrail:arn": {otherTrail}}},
		{Principal: "cloudtrail.amazonaws.com", Action: "sts:AssumeRole", Resource: f.TrailLogRole, Context: map[string][]string{"aws:SourceArn": {otherTrail}}, Why: "another trail assumes the log role"},
		{Principal: "logs." + f.Region + ".amazonaws.com", Action: "kms:Decrypt", Resource: f.KeyArn, Why: "CloudWatch Logs uses the key for another log group",
			Context: map[string][]string{"kms:EncryptionContext:aws:logs:arn": {f.arn("logs", "log-group:someone-elses-group")}}},
		{Principal: "ecs-tasks.amazonaws.com", Action: "sts:AssumeRole", Resource: f.TaskRole, Why: "a task of another account assumes the task role",
			Context: map[string][]string{"aws:SourceAccount": {"999999999999"}, "aws:SourceArn": {"arn:" + f.Partition + ":ecs:" + f.Region + ":999999999999:task/x/y"}}},
		{Principal: "arn:" + f.Partition + ":iam::999999999999:root", Action: "s3:GetObjectVersion", Resource: object, Context: https, Why: "another account reads a package"},
		{Principal: "arn:" + f.Partition + ":iam::999999999999:root", Action: "kms:Decrypt", Resource: f.KeyArn, Why: "another account decrypts with the key",
			Context: map[string][]string{"kms:ViaService": {f.via("s3")}, "kms:CallerAccount": {"999999999999"}}},
	}
	for _, t := range f.Tables {
		calls = append(calls, Call{Principal: f.TaskRole, Action: "dynamodb:DeleteTable", Resource: f.arn("dynamodb", "table/"+t), Why: "the task deletes table " + t})
	}
	return calls
}

func with(a, b map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// Granted returns every action principal's identity policies allow, each with the Sid of
// a statement that allows it.
func (p Policies) Granted(principal string) (map[string]string, error) {
	out := map[string]string{}
	for _, np := range p.Identity[principal] {
		var doc struct {
			Statement json.RawMessage
		}
		if err := json.Unmarshal(np.Policy, &doc); err != nil {
			return nil, fmt.Errorf("policy %s: %v", np.Name, err)
		}
		var statements []struct {
			Sid    string
			Effect string
			Action stringOrList
		}
		if err := json.Unmarshal(doc.Statement, &statements); err != nil {
			var one struct {
				Sid    string
				Effect string
				Action stringOrList
			}
			if err := json.Unmarshal(doc.Statement, &one); err != nil {
				return nil, fmt.Errorf("policy %s: %v", np.Name, err)
			}
			statements = append(statements, one)
		}
		for _, s := range statements {
			if s.Effect != "Allow" {
				continue
			}
			for _, a := range s.Action {
				out[a] = np.Name + "/" + s.Sid
			}
		}
	}
	return out, nil
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	err := json.Unmarshal(b, &many)
	*s = many
	return err
}

// Unused returns the actions principal is granted that no allowed decision exercised and
// that are not listed in needed (action -> the reason and code path that needs it).
func Unused(granted map[string]string, principal string, decisions []Decision, needed map[string]string) []string {
	used := map[string]bool{}
	for _, d := range decisions {
		if d.Allowed() && d.Call.Principal == principal {
			used[d.Call.Action] = true
		}
	}
	var out []string
	for a, where := range granted {
		if !used[a] && needed[a] == "" {
			out = append(out, a+" ("+where+")")
		}
	}
	sort.Strings(out)
	return out
}

// Table writes the proof's summary.
func Table(w io.Writer, rows [][2]string) {
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	fmt.Fprintf(w, "%-*s  %s\n%s  %s\n", width, "least-privilege proof", "result", strings.Repeat("-", width), "------")
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s  %s\n", width, r[0], r[1])
	}
}
