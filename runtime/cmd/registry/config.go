package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/throttle"
	"github.com/acme/module-registry/runtime/validator"
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
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	PresignTTL        time.Duration
	// Limits are the body deadlines and the throttles.
	Limits api.Limits
	// MaxPasswordChecks bounds concurrent argon2id checks; 0 derives it from the
	// memory limit (GOMEMLIMIT) and the CPUs.
	MaxPasswordChecks int

	// Healthcheck: probe the running server's /health and exit (-healthcheck).
	Healthcheck bool
	// SandboxReport: start one validator child that tries what its sandbox forbids,
	// print what held and exit (-sandbox-report).
	SandboxReport bool

	Backend string // BackendEmbedded or BackendAWS
	AWS     AWSConfig
	// SecretName is JWT_SECRET_NAME; UseSecretsManager says whether to
	// consult Secrets Manager (aws backend, or JWT_SECRET_NAME set).
	SecretName        string
	UseSecretsManager bool

	// Validators configures the validator sandbox (pool size, deadline, memory).
	Validators validator.Config
	// ServiceName is the Service dimension of the metrics.
	ServiceName string
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
	envIdleTimeout       = "REGISTRY_IDLE_TIMEOUT"
	envShutdownTimeout   = "REGISTRY_SHUTDOWN_TIMEOUT"
	envPresignTTL        = "REGISTRY_PRESIGN_TTL"
	envDefaultRegion     = "AWS_DEFAULT_REGION"
	envEndpointURL       = "AWS_ENDPOINT_URL"

	envBodyTimeout           = "REGISTRY_BODY_TIMEOUT"
	envResponseTimeout       = "REGISTRY_RESPONSE_TIMEOUT"
	envTransferIdleTimeout   = "REGISTRY_TRANSFER_IDLE_TIMEOUT"
	envTransferMinRate       = "REGISTRY_TRANSFER_MIN_RATE"
	envMaxJSONBytes          = "REGISTRY_MAX_JSON_BYTES"
	envRatePerToken          = "REGISTRY_RATE_PER_TOKEN"
	envBurstPerToken         = "REGISTRY_BURST_PER_TOKEN"
	envRatePerAddress        = "REGISTRY_RATE_PER_ADDRESS"
	envBurstPerAddress       = "REGISTRY_BURST_PER_ADDRESS"
	envLoginFreeFailuresName = "REGISTRY_LOGIN_FREE_FAILURES_PER_NAME"
	envLoginMaxDelayName     = "REGISTRY_LOGIN_MAX_DELAY_PER_NAME"
	envLoginFreeFailuresAddr = "REGISTRY_LOGIN_FREE_FAILURES_PER_ADDRESS"
	envLoginMaxDelayAddr     = "REGISTRY_LOGIN_MAX_DELAY_PER_ADDRESS"
	envMaxPasswordChecks     = "REGISTRY_MAX_PASSWORD_CHECKS"
)

// removedVars were read by earlier versions; setting one is refused rather than
// ignored, since its meaning is now split between other variables.
var removedVars = map[string]string{
	"REGISTRY_READ_TIMEOUT":  "no whole-request timeout any more: bodies have " + envBodyTimeout + ", uploads " + envTransferIdleTimeout + " and " + envTransferMinRate,
	"REGISTRY_WRITE_TIMEOUT": "no whole-response timeout any more: responses have " + envResponseTimeout + ", downloads " + envTransferIdleTimeout + " and " + envTransferMinRate,
}

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
		{envBodyTimeout, fmt.Sprintf("time allowed to send a request body other than a package upload, e.g. a login (default %s)", api.DefaultBodyTimeout)},
		{envMaxJSONBytes, fmt.Sprintf("largest JSON request body in bytes (default %d)", api.DefaultMaxJSONBytes)},
		{envResponseTimeout, fmt.Sprintf("time allowed to write a response other than a package download (default %s)", api.DefaultResponseTimeout)},
		{envTransferIdleTimeout, fmt.Sprintf("an upload or download that moves no byte for this long is cut; also the grace before the minimum rate counts (default %s)", api.DefaultTransferIdleTimeout)},
		{envTransferMinRate, fmt.Sprintf("average bytes per second an upload or download must keep, 0 for no minimum (default %d)", api.DefaultTransferMinRate)},
		{envIdleTimeout, "keep-alive idle timeout (default 2m)"},
		{envRatePerToken, fmt.Sprintf("requests per second one token may make, 0 for no limit (default %g)", api.DefaultTokenRate.PerSecond)},
		{envBurstPerToken, fmt.Sprintf("requests one token may make at once (default %d)", api.DefaultTokenRate.Burst)},
		{envRatePerAddress, fmt.Sprintf("requests per second one client address (IPv6: /64) may make, 0 for no limit (default %g)", api.DefaultAddressRate.PerSecond)},
		{envBurstPerAddress, fmt.Sprintf("requests one client address may make at once (default %d)", api.DefaultAddressRate.Burst)},
		{envLoginFreeFailuresName, fmt.Sprintf("failed logins per user name before they are delayed (default %d)", api.DefaultNameLoginBackoff.Free)},
		{envLoginMaxDelayName, fmt.Sprintf("longest delay of a user name after failed logins, doubling from 1s (default %s)", api.DefaultNameLoginBackoff.Max)},
		{envLoginFreeFailuresAddr, fmt.Sprintf("failed logins per client address before they are delayed (default %d)", api.DefaultAddressLoginBackoff.Free)},
		{envLoginMaxDelayAddr, fmt.Sprintf("longest delay of a client address after failed logins, doubling from 1s (default %s)", api.DefaultAddressLoginBackoff.Max)},
		{envMaxPasswordChecks, "argon2id password checks running at once; beyond them (and a short queue) logins get 503 (default: half of " + contract.EnvGoMemLimit + " in checks, at most one per CPU)"},
		{contract.EnvTrustedProxies, "comma-separated CIDRs of proxies (the load balancer) whose X-Forwarded-For names the client (default none)"},
		{contract.EnvGoMemLimit, "Go's soft memory limit, e.g. 460MiB; sizes the password checks (default none: 512 MiB assumed)"},
		{envShutdownTimeout, "grace period for in-flight requests on SIGINT/SIGTERM (default 30s)"},
		{contract.EnvValidatorPoolSize, fmt.Sprintf("validator scripts running at once, each a sandboxed child process; one more download of a version with a validator gets 503 (default %d, at most %d)", validator.DefaultSize, validator.MaxSize)},
		{contract.EnvValidatorDeadline, fmt.Sprintf("wall-clock limit of one validator run, after which the child is killed and the download refused (default and maximum %s)", validator.MaxDeadline)},
		{contract.EnvValidatorMemoryBytes, fmt.Sprintf("data and address space one validator child may add to its start-up footprint, half of it the script's heap (default %d = %d MiB; %d-%d MiB)", validator.DefaultMemoryBytes, validator.DefaultMemoryBytes>>20, validator.MinMemoryBytes>>20, validator.MaxMemoryBytes>>20)},
		{contract.EnvServiceName, "value of the Service dimension of the validator metrics in the log's CloudWatch Embedded Metric Format blocks (default " + contract.DefaultServiceName + ")"},
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
	sandboxReport := fs.Bool("sandbox-report", false, "start one validator sandbox child, try what it forbids (files, TCP, sockets, fork/exec, raising limits), print what held and exit 0 when the rlimits and seccomp did")
	fs.Usage = func() {
		fmt.Fprintln(usage, "Usage: registry [-production] [-healthcheck] [-sandbox-report]\n\n"+
			"(registry "+validator.ChildFlag+" is the validator sandbox's child: the registry starts it, with a request on stdin.)\n\nEnvironment variables:")
		width := 0
		for _, d := range envDocs {
			width = max(width, len(d[0]))
		}
		for _, d := range envDocs {
			fmt.Fprintf(usage, "  %-*s %s\n", width, d[0], d[1])
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
		IdleTimeout:       dur(envIdleTimeout, 2*time.Minute),
		ShutdownTimeout:   dur(envShutdownTimeout, 30*time.Second),
		PresignTTL:        dur(envPresignTTL, api.MaxPresignTTL),
		Production:        *production,
		Backend:           str(contract.EnvBackend, BackendEmbedded),
		SecretName:        str(secrets.EnvSecretName, secrets.DefaultSecretName),
	}
	for _, name := range slices.Sorted(maps.Keys(removedVars)) {
		if getenv(name) != "" {
			bad(name, "is no longer read (%s)", removedVars[name])
		}
	}
	c.SandboxReport = *sandboxReport
	c.Limits, c.MaxPasswordChecks = loadLimits(getenv, bad, dur)
	c.Validators = loadValidators(getenv, bad)
	c.ServiceName = str(contract.EnvServiceName, contract.DefaultServiceName)
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
	if err := api.ValidateUserName(c.AdminUser); err != nil {
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

// loadLimits reads the deadlines and throttles; unset variables keep api's defaults.
func loadLimits(getenv func(string) string, bad func(name, format string, a ...any), dur func(string, time.Duration) time.Duration) (api.Limits, int) {
	num := func(name string, def int64, zeroOK bool) int64 {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n == 0 && !zeroOK {
			kind := "positive"
			if zeroOK {
				kind = "non-negative"
			}
			bad(name, "%q is not a %s integer", v, kind)
			return def
		}
		return n
	}
	rate := func(rateVar, burstVar string, def throttle.Rate) throttle.Rate {
		r := def
		if v := getenv(rateVar); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
				bad(rateVar, "%q is not a non-negative number of requests per second (0 for no limit)", v)
			} else {
				r.PerSecond = f
			}
		}
		r.Burst = int(num(burstVar, int64(def.Burst), false))
		if r.PerSecond == 0 {
			return throttle.Unlimited
		}
		return r
	}
	backoff := func(freeVar, maxVar string, def throttle.BackoffPolicy) throttle.BackoffPolicy {
		p := def
		p.Free = int(num(freeVar, int64(def.Free), true))
		p.Max = dur(maxVar, def.Max)
		if p.Max < p.Base {
			bad(maxVar, "%s is shorter than the first delay %s", p.Max, p.Base)
		}
		return p
	}
	l := api.Limits{
		BodyTimeout:         dur(envBodyTimeout, api.DefaultBodyTimeout),
		ResponseTimeout:     dur(envResponseTimeout, api.DefaultResponseTimeout),
		TransferIdleTimeout: dur(envTransferIdleTimeout, api.DefaultTransferIdleTimeout),
		TransferMinRate:     num(envTransferMinRate, api.DefaultTransferMinRate, true),
		MaxJSONBytes:        num(envMaxJSONBytes, api.DefaultMaxJSONBytes, false),
		TokenRate:           rate(envRatePerToken, envBurstPerToken, api.DefaultTokenRate),
		AddressRate:         rate(envRatePerAddress, envBurstPerAddress, api.DefaultAddressRate),
		NameLoginBackoff:    backoff(envLoginFreeFailuresName, envLoginMaxDelayName, api.DefaultNameLoginBackoff),
		AddressLoginBackoff: backoff(envLoginFreeFailuresAddr, envLoginMaxDelayAddr, api.DefaultAddressLoginBackoff),
	}
	if l.TransferMinRate == 0 {
		l.TransferMinRate = -1 // api.Limits: negative is "no minimum"
	}
	if v := getenv(contract.EnvTrustedProxies); v != "" {
		ps, err := api.ParseTrustedProxies(v)
		if err != nil {
			bad(contract.EnvTrustedProxies, "%v", err)
		}
		l.TrustedProxies = ps
	}
	return l, int(num(envMaxPasswordChecks, 0, true))
}

// loadValidators reads the sandbox's settings; validator.New checks their ranges.
func loadValidators(getenv func(string) string, bad func(name, format string, a ...any)) validator.Config {
	var vc validator.Config
	if v := getenv(contract.EnvValidatorPoolSize); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > validator.MaxSize {
			bad(contract.EnvValidatorPoolSize, "%q is not a pool size of 1-%d", v, validator.MaxSize)
		} else {
			vc.Size = n
		}
	}
	if v := getenv(contract.EnvValidatorDeadline); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Millisecond || d > validator.MaxDeadline {
			bad(contract.EnvValidatorDeadline, "%q is not a duration of 10ms-%s", v, validator.MaxDeadline)
		} else {
			vc.Deadline = d
		}
	}
	if v := getenv(contract.EnvValidatorMemoryBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < validator.MinMemoryBytes || n > validator.MaxMemoryBytes {
			bad(contract.EnvValidatorMemoryBytes, "%q is not a number of bytes of %d-%d (16-2048 MiB)", v, validator.MinMemoryBytes, validator.MaxMemoryBytes)
		} else {
			vc.MemoryBytes = n
		}
	}
	return vc
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
