// Command provider measures what the AWS provider's endpoints block costs a local stack:
// the same one-key stack is applied, planned and destroyed on the emulator with the
// emulator named in the provider's endpoints block and, as the stacks do, in
// AWS_ENDPOINT_URL (stacks.EmulatorEnv); it prints the CPU (user + system, the provider
// included) and wall time of each Terraform command, the median of the rounds.
//
//	go run ./test/bench/provider [-rounds 3]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/acme/module-registry/app/tfmirror"
	"github.com/acme/module-registry/stacks"
	"github.com/acme/module-registry/test/emulator"
)

// blockServices are the services the stacks named in their endpoints block before it went.
var blockServices = []string{"appautoscaling", "cloudtrail", "cloudwatch", "logs", "dynamodb", "ec2", "ecr", "ecs",
	"elbv2", "iam", "kms", "s3", "secretsmanager", "sts", "wafv2", "configservice", "lambda", "sns", "s3control"}

// commands are the measured Terraform runs, in order, each with its arguments.
var commands = [][]string{
	{"init", "-input=false"},
	{"apply", "-auto-approve", "-input=false"},
	{"plan", "-input=false", "-detailed-exitcode"},
	{"destroy", "-auto-approve", "-input=false", "-refresh=false"},
}

// cost is one command's CPU and wall time.
type cost struct{ cpu, wall time.Duration }

func main() {
	rounds := flag.Int("rounds", 3, "rounds of each variant; the table shows the medians")
	flag.Parse()
	if err := run(*rounds); err != nil {
		fmt.Fprintln(os.Stderr, "provider:", err)
		os.Exit(1)
	}
}

func run(rounds int) error {
	if rounds < 1 {
		return fmt.Errorf("-rounds %d: at least 1", rounds)
	}
	if err := emulator.RequireTerraform(); err != nil {
		return err
	}
	ctx := context.Background()
	emu, err := emulator.Launch(ctx, emulator.Options{})
	if err != nil {
		return err
	}
	defer emu.Stop()
	work, err := os.MkdirTemp("", "bench-provider-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env, err := tfmirror.Env(filepath.Join(work, "terraform.rc"))
	if err != nil {
		return err
	}

	variants := []struct {
		name  string
		block bool
	}{{"endpoints block", true}, {"AWS_ENDPOINT_URL", false}}
	costs := make([][][]cost, len(variants)) // variant, command, round
	for v := range variants {
		costs[v] = make([][]cost, len(commands))
	}
	for r := 0; r < rounds; r++ {
		for v, variant := range variants { // alternating, so that load drifts hit both alike
			dir := filepath.Join(work, fmt.Sprintf("%d-%d", r, v))
			vars := maps.Clone(env)
			if !variant.block {
				maps.Copy(vars, stacks.EmulatorEnv(emu.Endpoint()))
			}
			if err := writeStack(dir, emu, variant.block); err != nil {
				return err
			}
			for c, args := range commands {
				got, err := terraform(dir, vars, args)
				if err != nil {
					return fmt.Errorf("%s, round %d: %w", variant.name, r+1, err)
				}
				costs[v][c] = append(costs[v][c], got)
			}
		}
	}

	fmt.Printf("one KMS key on the emulator, median of %d rounds\n", rounds)
	fmt.Printf("%-9s %18s %18s %14s %18s %18s\n", "command", "cpu, block", "cpu, env", "cpu saved", "wall, block", "wall, env")
	var sum [2]time.Duration
	for c, args := range commands {
		block, env := median(costs[0][c]), median(costs[1][c])
		sum[0] += block.cpu
		sum[1] += env.cpu
		fmt.Printf("%-9s %17.1fs %17.1fs %13.0f%% %17.1fs %17.1fs\n", args[0], block.cpu.Seconds(), env.cpu.Seconds(),
			100*(1-env.cpu.Seconds()/block.cpu.Seconds()), block.wall.Seconds(), env.wall.Seconds())
	}
	fmt.Printf("%-9s %17.1fs %17.1fs %13.0f%%\n", "all", sum[0].Seconds(), sum[1].Seconds(), 100*(1-sum[1].Seconds()/sum[0].Seconds()))
	fmt.Printf("machine: %d cores, %s\n", runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	return nil
}

// writeStack writes the one-key stack to dir, configured as stacks.NewBase configures a
// local stack, with the emulator in an endpoints block when block.
func writeStack(dir string, emu *emulator.Emulator, block bool) error {
	provider := map[string]any{
		"region": emu.Region(), "access_key": "test", "secret_key": "test",
		"skip_credentials_validation": true, "skip_metadata_api_check": "true", "s3_use_path_style": true,
		"http_proxy": emu.Endpoint(), "https_proxy": "",
	}
	if block {
		endpoints := map[string]string{}
		for _, s := range blockServices {
			endpoints[s] = emu.Endpoint()
		}
		provider["endpoints"] = []any{endpoints}
	}
	stack := map[string]any{
		"terraform": map[string]any{
			"required_providers": map[string]any{"aws": map[string]string{"source": "hashicorp/aws", "version": stacks.AWSProviderConstraint}},
		},
		"provider": map[string]any{"aws": []any{provider}},
		"resource": map[string]any{"aws_kms_key": map[string]any{"key": map[string]any{
			"description": "provider benchmark", "deletion_window_in_days": 7, "enable_key_rotation": true,
		}}},
	}
	b, err := json.MarshalIndent(stack, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), b, 0o644); err != nil {
		return err
	}
	return tfmirror.LockProviders(tfmirror.Detect(), dir)
}

// terraform runs terraform args in dir with vars added to this process's environment and
// returns its CPU (its own and its providers', which it waits for) and wall time.
func terraform(dir string, vars map[string]string, args []string) (cost, error) {
	cmd := exec.Command("terraform", append(args, "-no-color")...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return cost{}, fmt.Errorf("terraform %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return cost{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), wall: wall}, nil
}

// median is the median of each field of costs.
func median(costs []cost) cost {
	pick := func(f func(cost) time.Duration) time.Duration {
		v := make([]time.Duration, len(costs))
		for i, c := range costs {
			v[i] = f(c)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return cost{cpu: pick(func(c cost) time.Duration { return c.cpu }), wall: pick(func(c cost) time.Duration { return c.wall })}
}
