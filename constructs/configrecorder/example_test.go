package configrecorder_test

import (
	"fmt"

	"github.com/acme/module-registry/constructs/configrecorder"
	"github.com/acme/module-registry/constructs/encryptionkey"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

// AWS Config in one account: everything recorded, delivered under the project key, with
// the managed rules that mirror the synth-time invariants.
func ExampleNew() {
	stack := synthtest.ExampleStack("governance")
	key := encryptionkey.New(stack, "GovernanceKey", &encryptionkey.Props{Alias: "alias/acme-governance-key"})
	config := configrecorder.New(stack, "Config", &configrecorder.Props{EncryptionKey: key})

	synthtest.Print(stack, "aws_config_configuration_recorder", "name", "recording_group")
	synthtest.Print(stack, "aws_config_configuration_recorder_status", "is_enabled")
	fmt.Println(len(config.Rules()), "managed rules, e.g.", config.Rules()[0].Name, "mirrors", config.Rules()[0].Mirrors)
	// Output:
	// aws_config_configuration_recorder name: "acme-config-recorder"
	// aws_config_configuration_recorder recording_group: {"all_supported":true,"include_global_resource_types":true}
	// aws_config_configuration_recorder_status is_enabled: true
	// 12 managed rules, e.g. s3-bucket-server-side-encryption-enabled mirrors compliance s3-sse-kms-project-key
}
