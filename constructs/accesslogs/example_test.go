package accesslogs_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/accesslogs"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/securebucket"
)

// A stack's access-log bucket named after the team: created first with DefaultID, it is
// the one every bucket of the stack logs to, each under its own prefix.
func ExampleNew() {
	stack := synthtest.ExampleStack("team-b")
	logs := accesslogs.New(stack, accesslogs.DefaultID, &accesslogs.Props{BucketName: "team-b-access-logs", RetentionDays: 731})
	key := encryptionkey.New(stack, "Key", &encryptionkey.Props{Alias: "alias/team-b-key"})
	securebucket.New(stack, "Models", &securebucket.Props{BucketName: "team-b-models", EncryptionKey: key})

	synthtest.Print(stack, "aws_s3_bucket_logging", "target_prefix")
	for _, st := range logs.PolicyStatements() {
		fmt.Println(st.Sid, st.Actions)
	}
	// Output:
	// aws_s3_bucket_logging target_prefix: "s3/team-b-models/"
	// DenyInsecureTransport [s3:*]
	// DenyEncryptionOtherThanSSES3 [s3:PutObject]
	// ServerAccessLogsTeamBModels [s3:PutObject]
}
