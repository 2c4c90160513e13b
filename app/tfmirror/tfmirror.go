// Package tfmirror lets Terraform install the AWS provider from a filesystem mirror when
// the machine ships one and cannot reach the registry. Terraform reads a mirror only when a
// CLI configuration names it; this package finds the mirror and writes that configuration.
// Where no mirror exists it does nothing, so a networked machine uses the registry as usual.
package tfmirror

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// EnvVar names an explicit mirror directory, checked before the well-known locations.
const EnvVar = "ACME_TF_PROVIDER_MIRROR"

// Provider is the provider the mirror must hold.
const Provider = "registry.terraform.io/hashicorp/aws"

// Candidates are the directories searched, in order, after $ACME_TF_PROVIDER_MIRROR.
func Candidates() []string {
	c := []string{"/opt/tf-plugins", "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"}
	if home, err := os.UserHomeDir(); err == nil {
		c = append(c, filepath.Join(home, ".terraform.d", "plugins"))
	}
	return c
}

// Detect returns the first mirror directory holding an AWS provider 5.x >= 5.88 for this
// platform, or "" when there is none.
func Detect() string {
	dirs := Candidates()
	if v := os.Getenv(EnvVar); v != "" {
		dirs = append([]string{v}, dirs...)
	}
	return DetectIn(dirs...)
}

// DetectIn returns the first of dirs that holds a usable AWS provider, or "".
func DetectIn(dirs ...string) string {
	for _, d := range dirs {
		if HoldsAWSProvider(d) {
			return d
		}
	}
	return ""
}

// HoldsAWSProvider reports whether dir is a mirror (unpacked or packed layout) with a
// usable AWS provider for this OS and architecture.
func HoldsAWSProvider(dir string) bool {
	platform := runtime.GOOS + "_" + runtime.GOARCH
	base := filepath.Join(dir, filepath.FromSlash(Provider))
	entries, err := os.ReadDir(base)
	if err != nil {
		return false
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() { // unpacked: <version>/<os>_<arch>/terraform-provider-aws_*
			bins, _ := filepath.Glob(filepath.Join(base, name, platform, "terraform-provider-aws*"))
			if len(bins) > 0 && usableVersion(name) {
				return true
			}
			continue
		}
		// packed: terraform-provider-aws_<version>_<os>_<arch>.zip
		if v, ok := strings.CutPrefix(name, "terraform-provider-aws_"); ok {
			if v, ok := strings.CutSuffix(v, "_"+platform+".zip"); ok && usableVersion(v) {
				return true
			}
		}
	}
	return false
}

// usableVersion accepts 5.x with x >= 88, matching the stacks' provider constraint.
func usableVersion(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] != "5" {
		return false
	}
	minor, err := strconv.Atoi(parts[1])
	return err == nil && minor >= 88
}

// CLIConfig is a Terraform CLI configuration installing the AWS provider from mirror and
// every other provider from its registry.
func CLIConfig(mirror string) string {
	return fmt.Sprintf(`# Written by app/tfmirror: install %[1]s from the local mirror.
provider_installation {
  filesystem_mirror {
    path    = %[2]q
    include = [%[1]q]
  }
  direct {
    exclude = [%[1]q]
  }
}
`, Provider, mirror)
}

// WriteCLIConfigFor writes the CLI configuration for mirror to path and returns path, or
// returns "" without writing when mirror is "" (no mirror found).
func WriteCLIConfigFor(mirror, path string) (string, error) {
	if mirror == "" {
		return "", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return abs, os.WriteFile(abs, []byte(CLIConfig(mirror)), 0o644)
}

// Env returns the environment additions for running Terraform: the CLI configuration when
// a mirror exists (written to configPath) and CHECKPOINT_DISABLE.
func Env(configPath string) (map[string]string, error) { return EnvFor(Detect(), configPath) }

// EnvFor is Env for a given mirror; "" means no mirror, so Terraform uses its registry.
func EnvFor(mirror, configPath string) (map[string]string, error) {
	env := map[string]string{"CHECKPOINT_DISABLE": "1"}
	path, err := WriteCLIConfigFor(mirror, configPath)
	if err != nil {
		return nil, fmt.Errorf("writing Terraform CLI configuration: %w", err)
	}
	if path != "" {
		env["TF_CLI_CONFIG_FILE"] = path
	}
	return env, nil
}

// LockFileName is the file in which Terraform records a working directory's providers.
const LockFileName = ".terraform.lock.hcl"

// LockProviders writes dir's provider lock file from mirror when dir has none. The cdktf
// CLI fills a missing lock file with `terraform providers lock`, which ignores the CLI
// configuration and asks the registry, so a first deploy fails offline; locking from the
// mirror first avoids that. An existing lock file is left alone, and with no mirror
// ("") nothing is done: the registry is reachable and the CLI's own lock works.
func LockProviders(mirror, dir string) error {
	if mirror == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, LockFileName)); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	cmd := exec.Command("terraform", "providers", "lock", "-no-color",
		"-fs-mirror="+mirror, "-platform="+runtime.GOOS+"_"+runtime.GOARCH)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("locking providers in %s from the mirror %s: %w\n%s", dir, mirror, err, out)
	}
	return nil
}
