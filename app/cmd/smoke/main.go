// Command smoke runs the smoke sequence of package app/smoke against a running registry,
// logging in as the administrator whose password is read from Secrets Manager (or from
// REGISTRY_ADMIN_PASSWORD), and prints what it checked.
//
//	smoke -url http://127.0.0.1:8080 -user admin -password-secret acme-registry-admin
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/module-registry/app/smoke"
)

func main() {
	baseURL := flag.String("url", "http://127.0.0.1:8080", "registry URL")
	user := flag.String("user", "admin", "user to log in as")
	secret := flag.String("password-secret", "", "Secrets Manager secret holding the password as {\"password\": ...}; default: REGISTRY_ADMIN_PASSWORD")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	password := os.Getenv("REGISTRY_ADMIN_PASSWORD")
	if *secret != "" {
		var err error
		if password, err = readPassword(ctx, *secret); err != nil {
			fail(err)
		}
	}
	if password == "" {
		fail(fmt.Errorf("no password: pass -password-secret or set REGISTRY_ADMIN_PASSWORD"))
	}
	rep, err := smoke.Run(ctx, *baseURL, *user, password)
	for _, s := range rep.Steps {
		fmt.Println("  ok  " + s)
	}
	if err != nil {
		fail(err)
	}
}

func readPassword(ctx context.Context, secret string) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", err
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret)})
	if err != nil {
		return "", fmt.Errorf("reading the password from %s: %w", secret, err)
	}
	var v struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.Password == "" {
		return "", fmt.Errorf("secret %s holds no JSON field \"password\"", secret)
	}
	return v.Password, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "smoke: FAILED:", err)
	os.Exit(1)
}
