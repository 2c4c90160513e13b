package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/secrets"
)

// Config is the service configuration, read from environment variables
// (see envDocs) with a -production flag as an alternative to
// REGISTRY_PRODUCTION.
type Config struct {
	Addr              string
	DataDir           string
	Production        bool
	AdminUser         string
	AdminPassword     string
	MaxUploadBytes    int64
	LogLevel          slog.Level
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
}

// envDocs documents every variable; printed by -help.
var envDocs = [][2]string{
	{"REGISTRY_ADDR", "listen address (default 127.0.0.1:8080)"},
	{"REGISTRY_DATA_DIR", "directory for blobs and metadata (default ./data)"},
	{"REGISTRY_PRODUCTION", "true: refuse to start without JWT_SECRET and REGISTRY_ADMIN_PASSWORD (default false)"},
	{"REGISTRY_ADMIN_USER", "name of the bootstrap administrator (default admin)"},
	{"REGISTRY_ADMIN_PASSWORD", "bootstrap administrator password, at least 12 characters; if unset outside production a random one is generated on first start and printed once"},
	{secrets.EnvSecret, fmt.Sprintf("HS256 signing secret, at least %d bytes; if unset outside production a random development secret is generated", secrets.MinSecretBytes)},
	{secrets.EnvPreviousSecret, "previous signing secret, still accepted for verification during a rotation"},
	{"REGISTRY_MAX_UPLOAD_BYTES", "largest accepted package in bytes (default 5368709120 = 5 GiB)"},
	{"REGISTRY_LOG_LEVEL", "debug, info, warn or error (default info)"},
	{"REGISTRY_READ_HEADER_TIMEOUT", "time allowed to send request headers (default 10s)"},
	{"REGISTRY_READ_TIMEOUT", "time allowed to read a whole request including the body (default 1h)"},
	{"REGISTRY_WRITE_TIMEOUT", "time allowed to write a whole response (default 1h)"},
	{"REGISTRY_IDLE_TIMEOUT", "keep-alive idle timeout (default 2m)"},
	{"REGISTRY_SHUTDOWN_TIMEOUT", "grace period for in-flight requests on SIGINT/SIGTERM (default 30s)"},
}

// LoadConfig reads and validates the configuration, reporting every
// problem at once.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(usage)
	production := fs.Bool("production", false, "production mode (same as REGISTRY_PRODUCTION=true)")
	fs.Usage = func() {
		fmt.Fprintln(usage, "Usage: registry [-production]\n\nEnvironment variables:")
		for _, d := range envDocs {
			fmt.Fprintf(usage, "  %-30s %s\n", d[0], d[1])
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...)))
	}
	str := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(name, "%q is not a positive duration such as 30s or 5m", v)
			return def
		}
		return d
	}

	c := Config{
		Addr:              str("REGISTRY_ADDR", "127.0.0.1:8080"),
		DataDir:           str("REGISTRY_DATA_DIR", "./data"),
		AdminUser:         str("REGISTRY_ADMIN_USER", "admin"),
		AdminPassword:     getenv("REGISTRY_ADMIN_PASSWORD"),
		MaxUploadBytes:    api.DefaultMaxUploadBytes,
		ReadHeaderTimeout: dur("REGISTRY_READ_HEADER_TIMEOUT", 10*time.Second),
		ReadTimeout:       dur("REGISTRY_READ_TIMEOUT", time.Hour),
		WriteTimeout:      dur("REGISTRY_WRITE_TIMEOUT", time.Hour),
		IdleTimeout:       dur("REGISTRY_IDLE_TIMEOUT", 2*time.Minute),
		ShutdownTimeout:   dur("REGISTRY_SHUTDOWN_TIMEOUT", 30*time.Second),
		Production:        *production,
	}
	if v := getenv("REGISTRY_PRODUCTION"); v != "" {
		p, err := strconv.ParseBool(v)
		if err != nil {
			bad("REGISTRY_PRODUCTION", "%q is not true or false", v)
		}
		c.Production = c.Production || p
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("REGISTRY_ADDR", "%q is not host:port", c.Addr)
	}
	if v := getenv("REGISTRY_MAX_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad("REGISTRY_MAX_UPLOAD_BYTES", "%q is not a positive number of bytes", v)
		} else {
			c.MaxUploadBytes = n
		}
	}
	if v := getenv("REGISTRY_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("REGISTRY_LOG_LEVEL", "%q is not debug, info, warn or error", v)
		}
	}
	if err := api.ValidateName(c.AdminUser); err != nil {
		bad("REGISTRY_ADMIN_USER", "%v", err)
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < api.MinPasswordLen {
		bad("REGISTRY_ADMIN_PASSWORD", "must be at least %d characters", api.MinPasswordLen)
	}
	if c.Production {
		if c.AdminPassword == "" {
			bad("REGISTRY_ADMIN_PASSWORD", "required in production")
		}
		if getenv(secrets.EnvSecret) == "" {
			bad(secrets.EnvSecret, "required in production (at least %d bytes)", secrets.MinSecretBytes)
		}
	}
	if s := getenv(secrets.EnvSecret); s != "" && len(s) < secrets.MinSecretBytes {
		bad(secrets.EnvSecret, "must be at least %d bytes, got %d", secrets.MinSecretBytes, len(s))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("invalid configuration:\n  %w", joinIndented(errs))
	}
	return c, nil
}

func joinIndented(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}
