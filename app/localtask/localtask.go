// Package localtask reproduces what ECS hands a container: the environment and the
// secrets of one container of a registered task definition, with each secret reference
// resolved from Secrets Manager as the ECS agent resolves it. `make up` and the
// end-to-end test use it to run the registry as a local process with exactly the
// configuration the Fargate task gets.
package localtask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Environment returns the variables ECS would set in container of taskDefinition (an
// ARN or family[:revision]); container "" means the task's only container.
func Environment(ctx context.Context, cfg aws.Config, taskDefinition, container string) (map[string]string, error) {
	out, err := ecs.NewFromConfig(cfg).DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{
		TaskDefinition: aws.String(taskDefinition),
	})
	if err != nil {
		return nil, fmt.Errorf("localtask: describe task definition %s: %w", taskDefinition, err)
	}
	defs := out.TaskDefinition.ContainerDefinitions
	var names []string
	idx := -1
	for i, d := range defs {
		names = append(names, aws.ToString(d.Name))
		if aws.ToString(d.Name) == container || (container == "" && len(defs) == 1) {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("localtask: task definition %s has no container %q (containers: %s)", taskDefinition, container, strings.Join(names, ", "))
	}
	env := map[string]string{}
	for _, kv := range defs[idx].Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	var errs []error
	for _, s := range defs[idx].Secrets {
		v, err := resolve(ctx, sm, aws.ToString(s.ValueFrom))
		if err != nil {
			errs = append(errs, fmt.Errorf("localtask: secret %s: %w", aws.ToString(s.Name), err))
			continue
		}
		env[aws.ToString(s.Name)] = v
	}
	return env, errors.Join(errs...)
}

// Reference is a parsed ECS secret reference:
// arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<version-stage>:<version-id>].
type Reference struct {
	SecretArn, JSONKey, VersionStage, VersionID string
}

// ParseReference parses valueFrom as ECS does for Secrets Manager references.
func ParseReference(valueFrom string) (Reference, error) {
	parts := strings.Split(valueFrom, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "secretsmanager" || parts[5] != "secret" {
		return Reference{}, fmt.Errorf("%q is not a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<version-id>])", valueFrom)
	}
	if len(parts) != 7 && len(parts) != 10 {
		return Reference{}, fmt.Errorf("%q has %d fields after the secret ARN; ECS wants none or exactly three (json-key:version-stage:version-id, each may be empty)", valueFrom, len(parts)-7)
	}
	r := Reference{SecretArn: strings.Join(parts[:7], ":")}
	if len(parts) == 10 {
		r.JSONKey, r.VersionStage, r.VersionID = parts[7], parts[8], parts[9]
	}
	return r, nil
}

func resolve(ctx context.Context, sm *secretsmanager.Client, valueFrom string) (string, error) {
	ref, err := ParseReference(valueFrom)
	if err != nil {
		return "", err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.SecretArn)}
	if ref.VersionStage != "" {
		in.VersionStage = aws.String(ref.VersionStage)
	}
	if ref.VersionID != "" {
		in.VersionId = aws.String(ref.VersionID)
	}
	out, err := sm.GetSecretValue(ctx, in)
	if err != nil {
		return "", err
	}
	value := aws.ToString(out.SecretString)
	if ref.JSONKey == "" {
		return value, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(value), &fields); err != nil {
		return "", fmt.Errorf("json key %q requested but the secret value is not a JSON object", ref.JSONKey)
	}
	v, ok := fields[ref.JSONKey]
	if !ok {
		return "", fmt.Errorf("the secret has no JSON key %q", ref.JSONKey)
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, _ := json.Marshal(v) // ECS passes non-string values as their JSON text
	return string(b), nil
}
