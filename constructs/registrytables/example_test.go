package registrytables_test

import (
	"fmt"
	"sort"

	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
	"github.com/acme/module-registry/constructs/registrytables"
)

// The registry's tables under the project key: the service's task role reads and writes
// items in all five, a reporting role only reads the downloads table, and the table names
// go to the container as REGISTRY_TABLE_* variables.
func ExampleNew() {
	stack := synthtest.ExampleStack("registry")
	key := encryptionkey.New(stack, "ProjectKey", nil)
	tables := registrytables.New(stack, "Tables", &registrytables.Props{EncryptionKey: key})

	task := synthtest.Role(stack, "Task")
	tables.GrantReadWrite(task)
	reports := synthtest.Role(stack, "Reports")
	tables.Downloads().GrantRead(reports)

	var variables []string
	for name := range tables.Environment() { // {"REGISTRY_TABLE_USERS": <users table name>, ...}
		variables = append(variables, name)
	}
	sort.Strings(variables)
	fmt.Println(variables)
	synthtest.Print(stack, "aws_dynamodb_table", "name", "deletion_protection_enabled")
	// Output:
	// [REGISTRY_TABLE_DOWNLOADS REGISTRY_TABLE_PACKAGES REGISTRY_TABLE_TOKENS REGISTRY_TABLE_UPLOADS REGISTRY_TABLE_USERS]
	// aws_dynamodb_table name: "downloads"
	// aws_dynamodb_table deletion_protection_enabled: true
	// aws_dynamodb_table name: "packages"
	// aws_dynamodb_table deletion_protection_enabled: true
	// aws_dynamodb_table name: "tokens"
	// aws_dynamodb_table deletion_protection_enabled: true
	// aws_dynamodb_table name: "uploads"
	// aws_dynamodb_table deletion_protection_enabled: true
	// aws_dynamodb_table name: "users"
	// aws_dynamodb_table deletion_protection_enabled: true
}

// A second copy for another team in the same account: every name gets a prefix.
func ExampleNew_secondCopy() {
	stack := synthtest.ExampleStack("team-b")
	key := encryptionkey.FromKeyArn(stack, "SharedKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	tables := registrytables.New(stack, "Tables", &registrytables.Props{
		EncryptionKey: key,
		NamePrefix:    "team-b-",
	})
	fmt.Println(*tables.Users().Resource().NameInput())
	// Output: team-b-users
}

// Tables another team deployed, granted to this stack's role without creating anything.
func ExampleFromNames() {
	stack := synthtest.ExampleStack("reports")
	tables := registrytables.FromNames(stack, "Registry", &registrytables.ImportProps{NamePrefix: "team-a-"})
	reports := synthtest.Role(stack, "Reports")
	tables.Downloads().GrantRead(reports)
	fmt.Println(*tables.Downloads().Name())
	// Output: team-a-downloads
}
