package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acme/module-registry/app/localtask"
)

// registryReadyTimeout bounds the wait for the registry's /health.
var registryReadyTimeout = 60 * time.Second

// CheckAddrFree fails when the registry could not listen on addr: it is malformed or
// something listens there already. The message names REGISTRY_ADDR and a free address.
func CheckAddrFree(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s=%q is not a listen address such as %s: %v", AddrVar, addr, DefaultRegistryAddr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		hint := ""
		if free, ferr := FreeAddr(); ferr == nil {
			hint = fmt.Sprintf(", e.g. make up %s=%s", AddrVar, free)
		}
		return fmt.Errorf("the registry's address %s=%s is taken (%v): stop what listens there, or choose another address%s",
			AddrVar, addr, err, hint)
	}
	return l.Close()
}

// FreeAddr returns a 127.0.0.1 address with a port nothing listens on.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// URL is the base URL of a registry listening on addr; an unspecified host (":8080",
// "0.0.0.0:8080") is reached on 127.0.0.1.
func URL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// StartRegistry starts the registry, detached: the binary of the image synth built (the
// one taskDefinition deploys) where this machine can run it, else a local build. It gets
// the environment ECS gives the container of taskDefinition (secrets resolved from
// Secrets Manager), the emulator's endpoint and fake credentials in place of the task
// role, and REGISTRY_ADDR; nothing else of this process's environment is passed on. It
// returns once /health answers 200 and fails as soon as the registry exits, quoting its
// log.
func (e *Env) StartRegistry(ctx context.Context, emu EmulatorState, taskDefinition string) error {
	vars, err := localtask.Environment(ctx, emu.AWSConfig(), taskDefinition, "")
	if err != nil {
		return err
	}
	for k, v := range emu.awsEnv() {
		if _, set := vars[k]; !set {
			vars[k] = v
		}
	}
	return e.startRegistry(ctx, vars)
}

// startRegistry starts the registry with exactly vars and REGISTRY_ADDR and waits for
// its /health.
func (e *Env) startRegistry(ctx context.Context, vars map[string]string) error {
	build := e.localRegistry
	if e.registryProgram != nil {
		build = e.registryProgram
	}
	program, err := build(ctx)
	if err != nil {
		return err
	}
	vars[AddrVar] = e.RegistryAddr
	names := make([]string, 0, len(vars))
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		names = append(names, k)
		env = append(env, k+"="+v)
	}
	sort.Strings(names)
	sort.Strings(env)
	// The names, never the values: the environment holds the task's secrets.
	header := fmt.Sprintf("localenv: starting %s with %s\n", program, strings.Join(names, " "))
	child, err := startDetached("the registry", []string{program}, env, e.path(registryLog), header)
	if err != nil {
		return err
	}
	if err := os.WriteFile(e.path(registryPIDFile), []byte(strconv.Itoa(child.pid())+"\n"), 0o644); err != nil {
		_ = stopProcess(child.pid(), program)
		return err
	}
	return child.waitReady(ctx, registryReadyTimeout, healthy(URL(e.RegistryAddr)+"/health"))
}

// healthy reports whether url answers 200.
func healthy(url string) func(context.Context) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// StopRegistry stops this run directory's registry if it runs.
func (e *Env) StopRegistry() error {
	pidFile := e.path(registryPIDFile)
	pid, err := readPID(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return e.stopRecorded("registry", pid, err, e.path(registryBinary), pidFile)
}

// stopRecorded stops the process pid (read from record, readErr if that failed) if it
// still runs program, removes record and says what it stopped.
func (e *Env) stopRecorded(what string, pid int, readErr error, program, record string) error {
	err := readErr
	if err == nil {
		err = stopProcess(pid, e.abs(program))
	}
	stopped := err == nil
	if errors.Is(err, errNotRunning) {
		err = nil
	}
	if rmErr := os.Remove(record); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		err = errors.Join(err, rmErr)
	}
	if err != nil {
		return fmt.Errorf("stopping the %s: %w", what, err)
	}
	if stopped {
		e.printf("%s stopped\n", what)
	}
	return nil
}

// buildRegistry builds the registry into the run directory.
func (e *Env) buildRegistry(ctx context.Context) (string, error) {
	return e.goBuild(ctx, "./runtime/cmd/registry", registryBinary)
}
