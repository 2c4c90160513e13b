// Command rotate-jwt-secret rotates the registry's JWT signing secret without downtime.
//
// It reads the current version of the secret (created by constructs/jwtsecret), writes a
// new version whose jwt_secret is 64+ fresh characters from crypto/rand (>= 256 bits) and
// whose jwt_algorithm, jwt_expiration_hours and jwt_max_uses are unchanged, and checks
// that Secrets Manager moved AWSCURRENT to the new version and AWSPREVIOUS to the old one.
// The runtime verifies tokens against both, so tokens issued before the rotation stay
// valid until they expire; new tokens are signed with the new secret. The value is never
// printed, logged or written anywhere but Secrets Manager.
//
// Usage:
//
//	go run ./app/cmd/rotate-jwt-secret [-secret-name acme-jwt-secret] [-region us-east-1] [-endpoint URL] [-length N]
//
// Flags default to the environment: JWT_SECRET_NAME (default acme-jwt-secret), AWS_REGION
// (default us-east-1), ACME_AWS_ENDPOINT (default none: real AWS; set it to the emulator
// URL for local stacks). Credentials come from the usual AWS chain; the caller needs what
// jwtsecret's GrantRotate hands out. Run it again only after the longest token lifetime
// (jwt_expiration_hours) has passed: a second rotation retires the secret that signed
// tokens still in use.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/module-registry/app/cmd/rotate-jwt-secret/rotate"
	"github.com/acme/module-registry/runtime/contract"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rotate-jwt-secret:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("rotate-jwt-secret", flag.ContinueOnError)
	name := fs.String("secret-name", envOr(contract.EnvJWTSecretName, contract.DefaultJWTSecretName), "name or ARN of the secret ("+contract.EnvJWTSecretName+")")
	region := fs.String("region", envOr("AWS_REGION", "us-east-1"), "AWS region (AWS_REGION)")
	endpoint := fs.String("endpoint", os.Getenv("ACME_AWS_ENDPOINT"), "Secrets Manager endpoint, e.g. the local emulator (ACME_AWS_ENDPOINT)")
	length := fs.Int("length", 0, fmt.Sprintf("length of the new secret, at least %d (default: the current length)", rotate.MinLength))
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(*region))
	if err != nil {
		return err
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = endpoint
		}
	})
	res, err := rotate.Rotate(ctx, client, *name, rotate.Options{Length: *length})
	if err != nil {
		return err
	}
	fmt.Printf("rotated %s: new version %s is %s (%d characters), version %s is %s\n",
		res.SecretARN, res.CurrentVersionID, rotate.Current, res.Length, res.PreviousVersionID, rotate.Previous)
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
