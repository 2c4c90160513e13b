package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage/awsstore"
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
	PresignTTL        time.Duration

	// Healthcheck: probe the running server's /health and exit (-healthcheck).
	Healthcheck bool

	Backend string // BackendEmbedded or BackendAWS
	AWS     AWSConfig
	// SecretName is JWT_SECRET_NAME; UseSecretsManager says whether to
	// consult Secrets Manager (aws backend, or JWT_SECRET_NAME set).
	SecretName        string
	UseSecretsManager bool
}

// Storage backends.
const (
	BackendEmbedded = "embedded"
	BackendAWS      = "aws"
)

// AWSConfig is the aws backend's configuration.
type AWSConfig struct {
	Region   string
	Endpoint string // AWS_ENDPOINT_URL, only for an emulator
	Bucket   string
	KMSKeyID string
	Tables   awsstore.Tables
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
	{"REGISTRY_BACKEND", "storage backend: embedded (default; files + bbolt in REGISTRY_DATA_DIR) or aws (S3 + DynamoDB)"},
	{"REGISTRY_PRESIGN_TTL", "lifetime of presigned S3 URLs, at most 5m (default 5m)"},
	{"AWS_REGION", "aws backend: region (required)"},
	{"AWS_ENDPOINT_URL", "aws backend: endpoint of an AWS emulator (optional; path-style S3 for an IP endpoint)"},
	{"REGISTRY_BUCKET", "aws backend: artifacts bucket (required)"},
	{"REGISTRY_KMS_KEY_ID", "aws backend: KMS key ARN every S3 write asks SSE-KMS with (required)"},
	{"REGISTRY_TABLE_USERS", "aws backend: users table (default users)"},
	{"REGISTRY_TABLE_TOKENS", "aws backend: tokens table (default tokens)"},
	{"REGISTRY_TABLE_PACKAGES", "aws backend: packages table (default packages)"},
	{"REGISTRY_TABLE_UPLOADS", "aws backend: uploads table (default uploads)"},
	{"REGISTRY_TABLE_DOWNLOADS", "aws backend: downloads table (default downloads)"},
	{secrets.EnvSecretName, "Secrets Manager secret holding the JWT secret (default acme-jwt-secret); consulted with the aws backend or when set, before JWT_SECRET"},
}

// LoadConfig reads and validates the configuration, reporting every
// problem at once.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(usage)
	production := fs.Bool("production", false, "production mode (same as REGISTRY_PRODUCTION=true)")
	healthcheck := fs.Bool("healthcheck", false, "GET http://127.0.0.1:<port of REGISTRY_ADDR>/health and exit 0 on 200, 1 otherwise")
	fs.Usage = func() {
		fmt.Fprintln(usage, "Usage: registry [-production] [-healthcheck]\n\nEnvironment variables:")
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

	if *healthcheck {
		// The probe only needs the port; the rest of the environment is
		// the server's business.
		c := Config{Healthcheck: true, Addr: str("REGISTRY_ADDR", "127.0.0.1:8080")}
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return c, fmt.Errorf("invalid configuration:\n  REGISTRY_ADDR: %q is not host:port", c.Addr)
		}
		return c, nil
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
		PresignTTL:        dur("REGISTRY_PRESIGN_TTL", api.MaxPresignTTL),
		Production:        *production,
		Backend:           str("REGISTRY_BACKEND", BackendEmbedded),
		SecretName:        str(secrets.EnvSecretName, secrets.DefaultSecretName),
	}
	if c.PresignTTL > api.MaxPresignTTL {
		bad("REGISTRY_PRESIGN_TTL", "%s is longer than the %s maximum", c.PresignTTL, api.MaxPresignTTL)
	}
	switch c.Backend {
	case BackendEmbedded:
	case BackendAWS:
		c.AWS = AWSConfig{
			Region:   str("AWS_REGION", getenv("AWS_DEFAULT_REGION")),
			Endpoint: getenv("AWS_ENDPOINT_URL"),
			Bucket:   getenv("REGISTRY_BUCKET"),
			KMSKeyID: getenv("REGISTRY_KMS_KEY_ID"),
			Tables: awsstore.Tables{
				Users: str("REGISTRY_TABLE_USERS", "users"), Tokens: str("REGISTRY_TABLE_TOKENS", "tokens"),
				Packages: str("REGISTRY_TABLE_PACKAGES", "packages"), Uploads: str("REGISTRY_TABLE_UPLOADS", "uploads"),
				Downloads: str("REGISTRY_TABLE_DOWNLOADS", "downloads"),
			},
		}
		if c.AWS.Region == "" {
			bad("AWS_REGION", "required with REGISTRY_BACKEND=aws")
		}
		if e := c.AWS.Endpoint; e != "" {
			if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("AWS_ENDPOINT_URL", "%q is not an http(s) URL", e)
			}
		}
		if c.AWS.Bucket == "" {
			bad("REGISTRY_BUCKET", "required with REGISTRY_BACKEND=aws")
		} else if !bucketNameRE.MatchString(c.AWS.Bucket) {
			bad("REGISTRY_BUCKET", "%q is not a valid S3 bucket name", c.AWS.Bucket)
		}
		if c.AWS.KMSKeyID == "" {
			bad("REGISTRY_KMS_KEY_ID", "required with REGISTRY_BACKEND=aws (the project key ARN)")
		}
		for _, tv := range [][2]string{{"REGISTRY_TABLE_USERS", c.AWS.Tables.Users}, {"REGISTRY_TABLE_TOKENS", c.AWS.Tables.Tokens},
			{"REGISTRY_TABLE_PACKAGES", c.AWS.Tables.Packages}, {"REGISTRY_TABLE_UPLOADS", c.AWS.Tables.Uploads}, {"REGISTRY_TABLE_DOWNLOADS", c.AWS.Tables.Downloads}} {
			if !tableNameRE.MatchString(tv[1]) {
				bad(tv[0], "%q is not a valid DynamoDB table name (3-255 of letters, digits, _ - .)", tv[1])
			}
		}
	default:
		bad("REGISTRY_BACKEND", "%q is not embedded or aws", c.Backend)
	}
	c.UseSecretsManager = c.Backend == BackendAWS || getenv(secrets.EnvSecretName) != ""
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
		if getenv(secrets.EnvSecret) == "" && !c.UseSecretsManager {
			bad(secrets.EnvSecret, "required in production (at least %d bytes) unless the secret comes from Secrets Manager (REGISTRY_BACKEND=aws or %s)", secrets.MinSecretBytes, secrets.EnvSecretName)
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

var (
	bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	tableNameRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
)

func joinIndented(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}
