package iampolicy_test

import (
	"encoding/json"
	"fmt"

	"github.com/aws/jsii-runtime-go"
	"github.com/hashicorp/terraform-cdk-go/cdktf"

	"github.com/acme/module-registry/constructs/iampolicy"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

// A construct's grant: typed statements become an aws_iam_policy_document that an inline
// aws_iam_role_policy attaches to the role, with no policy JSON written by hand.
func ExampleGrant() {
	stack := synthtest.ExampleStack("team-b")
	role := synthtest.Role(stack, "Reader")

	iampolicy.Grant(stack, iampolicy.GrantID("Read", role, 1), role, iampolicy.Statement{
		Sid:        "ReadPackages",
		Actions:    []string{"s3:GetObject"},
		Resources:  []string{"arn:aws:s3:::pkg-artifacts/packages/*"},
		Conditions: []iampolicy.Condition{iampolicy.StringEquals("aws:SourceAccount", "111122223333")},
	})

	var synthesized struct {
		Data struct {
			Documents map[string]struct {
				Statement []map[string]any `json:"statement"`
			} `json:"aws_iam_policy_document"`
		} `json:"data"`
		Resource struct {
			Policies map[string]map[string]any `json:"aws_iam_role_policy"`
		} `json:"resource"`
	}
	if err := json.Unmarshal([]byte(*cdktf.Testing_Synth(stack, jsii.Bool(true))), &synthesized); err != nil {
		panic(err)
	}
	policy := synthesized.Resource.Policies["GrantReadReader1"]
	fmt.Println("role:", policy["role"])
	fmt.Println("policy:", policy["policy"])
	statement, _ := json.Marshal(synthesized.Data.Documents["GrantReadReader1Document"].Statement[0])
	fmt.Println("statement:", string(statement))
	// Output:
	// role: ${aws_iam_role.Reader.name}
	// policy: ${data.aws_iam_policy_document.GrantReadReader1Document.json}
	// statement: {"actions":["s3:GetObject"],"condition":[{"test":"StringEquals","values":["111122223333"],"variable":"aws:SourceAccount"}],"effect":"Allow","resources":["arn:aws:s3:::pkg-artifacts/packages/*"],"sid":"ReadPackages"}
}

// Constructs call Add idempotently: a statement whose Sid is already in the document
// replaces it, in place; others are appended.
func ExampleDocument_Add() {
	stack := synthtest.ExampleStack("team-b")
	doc := iampolicy.NewDocument(stack, "BucketPolicy", iampolicy.Statement{Sid: "Read", Actions: []string{"s3:GetObject"}})
	doc.Add(iampolicy.Statement{Sid: "List", Actions: []string{"s3:ListBucket"}},
		iampolicy.Statement{Sid: "Read", Actions: []string{"s3:GetObject", "s3:GetObjectVersion"}})
	for _, s := range doc.Statements() {
		fmt.Println(s.Sid, s.Actions)
	}
	// Output:
	// Read [s3:GetObject s3:GetObjectVersion]
	// List [s3:ListBucket]
}
