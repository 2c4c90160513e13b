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
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/secrets"
)

// Config is the service configuration, read from environment variables
// (see envDocs) with a -production flag as an alternative to
// REGISTRY_PRODUCTION (contract.EnvProduction).
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
	BackendAWS      = contract.BackendAWS
)

// AWSConfig is the aws backend's configuration.
type AWSConfig struct {
	Region   string
	Endpoint string // AWS_ENDPOINT_URL, only for an emulator
	Bucket   string
	KMSKeyID string
	Tables   contract.TableNames
}

// Variables only the registry reads; those a deployment sets are in the
// contract (contract.Env*, contract.Table.EnvVar).
const (
	envDataDir           = "REGISTRY_DATA_DIR"
	envAdminUser         = "REGISTRY_ADMIN_USER"
	envMaxUploadBytes    = "REGISTRY_MAX_UPLOAD_BYTES"
	envLogLevel          = "REGISTRY_LOG_LEVEL"
	envReadHeaderTimeout = "REGISTRY_READ_HEADER_TIMEOUT"
	envReadTimeout       = "REGISTRY_READ_TIMEOUT"
	envWriteTimeout      = "REGISTRY_WRITE_TIMEOUT"
	envIdleTimeout       = "REGISTRY_IDLE_TIMEOUT"
	envShutdownTimeout   = "REGISTRY_SHUTDOWN_TIMEOUT"
	envPresignTTL        = "REGISTRY_PRESIGN_TTL"
	envDefaultRegion     = "AWS_DEFAULT_REGION"
	envEndpointURL       = "AWS_ENDPOINT_URL"
)

const defaultAddr = "127.0.0.1:8080"

// envDocs documents every variable; printed by -help.
var envDocs = func() [][2]string {
	docs := [][2]string{
		{contract.EnvAddr, "listen address (default " + defaultAddr + ")"},
		{envDataDir, "directory for blobs and metadata (default ./data)"},
		{contract.EnvProduction, "true: refuse to start without " + contract.EnvJWTSecret + " and " + contract.EnvAdminPassword + " (default false)"},
		{envAdminUser, "name of the bootstrap administrator (default admin)"},
		{contract.EnvAdminPassword, "bootstrap administrator password, at least 12 characters; if unset outside production a random one is generated on first start and printed once"},
		{secrets.EnvSecret, fmt.Sprintf("HS256 signing secret, at least %d bytes; if unset outside production a random development secret is generated", secrets.MinSecretBytes)},
		{secrets.EnvPreviousSecret, "previous signing secret, still accepted for verification during a rotation"},
		{envMaxUploadBytes, "largest accepted package in bytes (default 5368709120 = 5 GiB)"},
		{envLogLevel, "debug, info, warn or error (default info)"},
		{envReadHeaderTimeout, "time allowed to send request headers (default 10s)"},
		{envReadTimeout, "time allowed to read a whole request including the body (default 1h)"},
		{envWriteTimeout, "time allowed to write a whole response (default 1h)"},
		{envIdleTimeout, "keep-alive idle timeout (default 2m)"},
		{envShutdownTimeout, "grace period for in-flight requests on SIGINT/SIGTERM (default 30s)"},
		{contract.EnvBackend, "storage backend: embedded (default; files + bbolt in " + envDataDir + ") or aws (S3 + DynamoDB)"},
		{envPresignTTL, "lifetime of presigned S3 URLs, at most 5m (default 5m)"},
		{contract.EnvRegion, "aws backend: region (required)"},
		{envEndpointURL, "aws backend: endpoint of an AWS emulator (optional; path-style S3 for an IP endpoint)"},
		{contract.EnvBucket, "aws backend: artifacts bucket (required)"},
		{contract.EnvKMSKeyID, "aws backend: KMS key ARN every S3 write asks SSE-KMS with (required)"},
	}
	for _, t := range contract.Tables() {
		docs = append(docs, [2]string{t.EnvVar, fmt.Sprintf("aws backend: %s table (default %s)", t.Kind, t.DefaultName())})
	}
	return append(docs, [2]string{secrets.EnvSecretName, "Secrets Manager secret holding the JWT secret (default " + secrets.DefaultSecretName + "); consulted with the aws backend or when set, before " + secrets.EnvSecret})
}()

// LoadConfig reads and validates the configuration, reporting every
// problem at once.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(usage)
	production := fs.Bool("production", false, "production mode (same as "+contract.EnvProduction+"=true)")
	healthcheck := fs.Bool(strings.TrimPrefix(contract.HealthcheckFlag, "-"), false, "GET http://127.0.0.1:<port of "+contract.EnvAddr+">"+contract.HealthPath+" and exit 0 on 200, 1 otherwise")
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
		c := Config{Healthcheck: true, Addr: str(contract.EnvAddr, defaultAddr)}
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return c, fmt.Errorf("invalid configuration:\n  %s: %q is not host:port", contract.EnvAddr, c.Addr)
		}
		return c, nil
	}

	c := Config{
		Addr:              str(contract.EnvAddr, defaultAddr),
		DataDir:           str(envDataDir, "./data"),
		AdminUser:         str(envAdminUser, "admin"),
		AdminPassword:     getenv(contract.EnvAdminPassword),
		MaxUploadBytes:    api.DefaultMaxUploadBytes,
		ReadHeaderTimeout: dur(envReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       dur(envReadTimeout, time.Hour),
		WriteTimeout:      dur(envWriteTimeout, time.Hour),
		IdleTimeout:       dur(envIdleTimeout, 2*time.Minute),
		ShutdownTimeout:   dur(envShutdownTimeout, 30*time.Second),
		PresignTTL:        dur(envPresignTTL, api.MaxPresignTTL),
		Production:        *production,
		Backend:           str(contract.EnvBackend, BackendEmbedded),
		SecretName:        str(secrets.EnvSecretName, secrets.DefaultSecretName),
	}
	if c.PresignTTL > api.MaxPresignTTL {
		bad(envPresignTTL, "%s is longer than the %s maximum", c.PresignTTL, api.MaxPresignTTL)
	}
	switch c.Backend {
	case BackendEmbedded:
	case BackendAWS:
		required := "required with " + contract.EnvBackend + "=" + BackendAWS
		c.AWS = AWSConfig{
			Region:   str(contract.EnvRegion, getenv(envDefaultRegion)),
			Endpoint: getenv(envEndpointURL),
			Bucket:   getenv(contract.EnvBucket),
			KMSKeyID: getenv(contract.EnvKMSKeyID),
		}
		if c.AWS.Region == "" {
			bad(contract.EnvRegion, "%s", required)
		}
		if e := c.AWS.Endpoint; e != "" {
			if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(envEndpointURL, "%q is not an http(s) URL", e)
			}
		}
		if c.AWS.Bucket == "" {
			bad(contract.EnvBucket, "%s", required)
		} else if !bucketNameRE.MatchString(c.AWS.Bucket) {
			bad(contract.EnvBucket, "%q is not a valid S3 bucket name", c.AWS.Bucket)
		}
		if c.AWS.KMSKeyID == "" {
			bad(contract.EnvKMSKeyID, "%s (the project key ARN)", required)
		}
		for _, t := range contract.Tables() {
			name := str(t.EnvVar, t.DefaultName())
			c.AWS.Tables = c.AWS.Tables.With(t.Kind, name)
			if !tableNameRE.MatchString(name) {
				bad(t.EnvVar, "%q is not a valid DynamoDB table name (3-255 of letters, digits, _ - .)", name)
			}
		}
	default:
		bad(contract.EnvBackend, "%q is not embedded or aws", c.Backend)
	}
	c.UseSecretsManager = c.Backend == BackendAWS || getenv(secrets.EnvSecretName) != ""
	if v := getenv(contract.EnvProduction); v != "" {
		p, err := strconv.ParseBool(v)
		if err != nil {
			bad(contract.EnvProduction, "%q is not true or false", v)
		}
		c.Production = c.Production || p
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad(contract.EnvAddr, "%q is not host:port", c.Addr)
	}
	if v := getenv(envMaxUploadBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad(envMaxUploadBytes, "%q is not a positive number of bytes", v)
		} else {
			c.MaxUploadBytes = n
		}
	}
	if v := getenv(envLogLevel); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad(envLogLevel, "%q is not debug, info, warn or error", v)
		}
	}
	if err := api.ValidateName(c.AdminUser); err != nil {
		bad(envAdminUser, "%v", err)
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < api.MinPasswordLen {
		bad(contract.EnvAdminPassword, "must be at least %d characters", api.MinPasswordLen)
	}
	if c.Production {
		if c.AdminPassword == "" {
			bad(contract.EnvAdminPassword, "required in production")
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
