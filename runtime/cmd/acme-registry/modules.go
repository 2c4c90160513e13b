package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/moduleaddr"
)

// hostRE is what a module source's host may be: a DNS name, optionally with a port.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*(?::[0-9]{1,5})?$`)

func (c *cli) module(fs *flag.FlagSet, args []string) error {
	declared := fs.String("sha256", "", "for publish: the SHA-256 the archive must have")
	host := fs.String("host", "", "for terraform-config: the host name module sources use, such as registry.acme.internal")
	output := fs.String("o", "", "for terraform-config: write the configuration to this file (0600) instead of stdout")
	pos, err := parse(fs, args, 1, 4)
	if err != nil {
		return err
	}
	sub, rest := pos[0], pos[1:]
	want := map[string]int{"publish": 3, "versions": 1, "url": 2, "terraform-config": 0}
	n, ok := want[sub]
	if !ok {
		return usagef("module: unknown subcommand %q (publish, versions, url, terraform-config)", sub)
	}
	if len(rest) != n {
		return usagef("module %s: wrong number of arguments (run with --help)", sub)
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	if sub == "terraform-config" {
		return c.terraformConfig(s, *host, *output)
	}
	addr, err := moduleaddr.Parse(rest[0])
	if err != nil {
		return usagef("%v", err)
	}
	ctx := context.Background()
	switch sub {
	case "publish":
		return c.publishModule(ctx, s, addr, rest[1], rest[2], *declared)
	case "versions":
		versions, err := s.client.ModuleVersions(ctx, addr)
		if err != nil {
			return err
		}
		return c.print(map[string]any{"module": addr.String(), "package": addr.PackageName(), "versions": versions}, func(w io.Writer) {
			for _, v := range versions {
				fmt.Fprintln(w, v)
			}
		})
	}
	loc, err := s.client.ModuleDownloadURL(ctx, addr, rest[1])
	if err != nil {
		return err
	}
	return c.print(map[string]string{"url": loc}, func(w io.Writer) { fmt.Fprintln(w, loc) })
}

func (c *cli) publishModule(ctx context.Context, s *session, addr moduleaddr.Address, version, path, declared string) error {
	if err := moduleaddr.CheckVersion(version); err != nil {
		return usagef("%v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	report, done := c.progress("publish " + addr.String() + " " + version)
	opts := &client.PushOptions{SHA256: declared, Progress: report}
	var pkg client.Package
	if fi.IsDir() {
		pkg, err = s.client.PublishModuleDir(ctx, addr, version, path, opts)
	} else {
		pkg, err = c.publishArchive(ctx, s, addr, version, path, opts)
	}
	done()
	if err != nil {
		return err
	}
	out := map[string]any{"module": addr.String(), "version": version, "package": pkg.Name, "sha256_hash": pkg.SHA256, "size": pkg.Size}
	return c.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "Published %s %s (package %s)\nsha256 %s\nsize   %d bytes\n", addr, version, pkg.Name, pkg.SHA256, pkg.Size)
	})
}

// publishArchive publishes a ready .tar.gz, after checking that it is gzip.
func (c *cli) publishArchive(ctx context.Context, s *session, addr moduleaddr.Address, version, path string, opts *client.PushOptions) (client.Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return client.Package{}, err
	}
	defer f.Close()
	magic, err := bufio.NewReader(f).Peek(2)
	if err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		return client.Package{}, usagef("%s is not a gzipped tar archive: pass the module's directory, or a .tar.gz of it", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return client.Package{}, err
	}
	return s.client.PublishModule(ctx, addr, version, f, -1, opts)
}

// terraformConfig writes a Terraform CLI configuration that sends module sources
// <host>/... to this registry, with the saved token.
func (c *cli) terraformConfig(s *session, host, output string) error {
	if !hostRE.MatchString(host) {
		return usagef("module terraform-config: --host must be a host name such as registry.acme.internal, got %q", host)
	}
	token := s.client.Token()
	if token == "" {
		return fmt.Errorf("%w to %s: the configuration carries the token", client.ErrNotLoggedIn, s.url)
	}
	jwt := strings.TrimPrefix(token, "bearer ")
	expiry := "unknown"
	if claims, err := client.ReadTokenClaims(token); err == nil && !claims.ExpiresAt.IsZero() {
		expiry = claims.ExpiresAt.Local().Format(time.DateTime)
	}
	conf := fmt.Sprintf(`# Terraform CLI configuration: module sources %[1]s/<namespace>/<name>/<system>
# come from the registry at %[2]s. Use it with
#   export TF_CLI_CONFIG_FILE=<this file>
# The token expires at %[4]s: run acme-registry login and this command again then.
host %[1]q {
  services = {
    "modules.v1" = %[3]q
  }
}

credentials %[1]q {
  token = %[5]q
}
`, host, s.url, s.url+client.ModulesPath, expiry, jwt)
	if output == "" {
		_, err := io.WriteString(c.stdout, conf)
		return err
	}
	if err := client.WriteFile(output, strings.NewReader(conf), 0o600); err != nil {
		return err
	}
	return c.print(map[string]string{"path": output, "host": host}, func(w io.Writer) {
		fmt.Fprintf(w, "Wrote %s (mode 0600). Use it with: export TF_CLI_CONFIG_FILE=%s\n", output, output)
	})
}
