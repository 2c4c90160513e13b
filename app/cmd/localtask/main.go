// Command localtask runs a program with the environment one container of an ECS task
// definition gets, resolved as ECS resolves it (secrets read from Secrets Manager), plus
// the AWS_* variables of its own environment standing in for the task role's credentials
// and, locally, the emulator endpoint. Nothing else is inherited.
//
//	localtask -task-definition <arn> [-container app] [-set REGISTRY_ADDR=127.0.0.1:8080] -- ./registry
//
// It prints the names (never the values) of the variables it sets, then replaces itself
// with the program.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/acme/module-registry/app/localtask"
)

type setFlags map[string]string

func (s setFlags) String() string { return "" }

func (s setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	s[k] = val
	return nil
}

func main() {
	taskDef := flag.String("task-definition", "", "task definition ARN or family[:revision] (required)")
	container := flag.String("container", "", "container name (default: the task's only container)")
	sets := setFlags{}
	flag.Var(sets, "set", "NAME=VALUE to set or override, e.g. the listen address (repeatable)")
	flag.Parse()
	if *taskDef == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: localtask -task-definition <arn> [-container name] [-set NAME=VALUE]... -- program [args]")
		os.Exit(2)
	}
	if err := run(*taskDef, *container, sets, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "localtask:", err)
		os.Exit(1)
	}
}

func run(taskDef, container string, sets map[string]string, argv []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	env, err := localtask.Environment(ctx, cfg, taskDef, container)
	if err != nil {
		return err
	}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			if _, set := env[k]; !set {
				env[k] = v
			}
		}
	}
	for k, v := range sets {
		env[k] = v
	}
	prog, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	names := make([]string, 0, len(env))
	list := make([]string, 0, len(env))
	for k, v := range env {
		names = append(names, k)
		list = append(list, k+"="+v)
	}
	sort.Strings(names)
	slices.Sort(list)
	fmt.Fprintf(os.Stderr, "localtask: starting %s with %s\n", prog, strings.Join(names, " "))
	return syscall.Exec(prog, argv, list)
}
