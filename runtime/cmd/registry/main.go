// Command registry runs the ACME module registry service.
//
//	go run ./runtime/cmd/registry            # development: 127.0.0.1:8080, data in ./data
//	go run ./runtime/cmd/registry -help      # lists every environment variable
//
// Outside production it generates a JWT secret (with a loud warning) and,
// on first start, an administrator password printed once to stderr.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/runtime/validator"
)

func main() {
	// First: in -validate mode the process is a validator sandbox's child and must
	// confine itself before anything else runs.
	validator.ChildMain()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := LoadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "registry:", err)
		return 2
	}
	if cfg.Healthcheck {
		return healthcheck(ctx, cfg.Addr, stderr)
	}
	if cfg.SandboxReport {
		return sandboxReport(ctx, cfg.Validators, stdout, stderr)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := serve(ctx, cfg, getenv, log, stderr); err != nil {
		log.Error("registry stopped", "error", err.Error())
		fmt.Fprintln(stderr, "registry:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg Config, getenv func(string) string, log *slog.Logger, stderr io.Writer) error {
	var (
		backend  storage.Backend
		awsCfg   aws.Config
		haveAWS  bool
		location string
	)
	if cfg.Backend == BackendAWS || cfg.UseSecretsManager {
		var err error
		var opts []func(*config.LoadOptions) error
		if cfg.AWS.Region != "" {
			opts = append(opts, config.WithRegion(cfg.AWS.Region))
		}
		awsCfg, err = config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return fmt.Errorf("loading AWS configuration: %w", err)
		}
		haveAWS = true
	}
	switch cfg.Backend {
	case BackendAWS:
		st, err := awsstore.New(awsCfg, awsstore.Config{Bucket: cfg.AWS.Bucket, KMSKeyID: cfg.AWS.KMSKeyID, Tables: cfg.AWS.Tables})
		if err != nil {
			return err
		}
		backend, location = st.Backend(), "s3://"+cfg.AWS.Bucket
	default:
		store, err := embedded.Open(cfg.DataDir)
		if err != nil {
			return err
		}
		defer store.Close()
		backend, location = store.Backend(), cfg.DataDir
	}

	ropts := secrets.ResolveOptions{Getenv: getenv, Production: cfg.Production, Logger: log}
	if cfg.UseSecretsManager && haveAWS {
		ropts.SecretsManager = secretsmanager.NewFromConfig(awsCfg)
	}
	keys, err := secrets.ResolveWithSecretsManager(ctx, ropts)
	if err != nil {
		return err
	}
	defer keys.Close()
	authOpts := auth.Options{}
	if keys.Settings != nil {
		authOpts.TTL, authOpts.MaxUses = keys.Settings.TokenTTL(), keys.Settings.MaxUses
	}
	memLimit := debug.SetMemoryLimit(-1) // GOMEMLIMIT, or math.MaxInt64 when unset
	checks := cfg.MaxPasswordChecks
	if checks == 0 {
		checks = auth.PasswordCheckLimit(memLimit, auth.DefaultArgon2, runtime.GOMAXPROCS(0))
	}
	authOpts.PasswordChecks = auth.NewPasswordGate(checks)
	authSvc, err := auth.New(backend.Meta, keys.Provider, authOpts)
	if err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, cfg, backend.Meta, authSvc, log, stderr); err != nil {
		return err
	}

	pool, err := validator.New(cfg.Validators)
	if err != nil {
		return err
	}
	logSandbox(ctx, pool, log)

	handler := api.New(api.Config{Backend: backend, Auth: authSvc, Logger: log, MaxUploadBytes: cfg.MaxUploadBytes, PresignTTL: cfg.PresignTTL,
		Limits: cfg.Limits, Validators: pool, ValidatorMetrics: validator.Metrics{Namespace: contract.MetricsNamespace, Service: cfg.ServiceName}}).Handler()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		// The handler sets every request's deadlines itself (BodyTimeout, and transfer
		// deadlines that move while bytes flow); these are only the starting values.
		ReadTimeout:    cfg.Limits.BodyTimeout,
		WriteTimeout:   cfg.Limits.ResponseTimeout,
		IdleTimeout:    cfg.IdleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	limit := "none"
	if memLimit != math.MaxInt64 {
		limit = strconv.FormatInt(memLimit>>20, 10) + "MiB"
	}
	log.Info("listening", "addr", ln.Addr().String(), "backend", cfg.Backend, "data", location, "jwt_secret_source", keys.Source, "production", cfg.Production, "max_upload_bytes", cfg.MaxUploadBytes,
		"memory_limit", limit, "password_checks", checks, "token_rate", cfg.Limits.TokenRate.String(), "address_rate", cfg.Limits.AddressRate.String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		releaseLeases(authSvc, log)
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	releaseLeases(authSvc, log)
	log.Info("stopped")
	return nil
}

// releaseLeases gives the token uses this process leased and did not serve back to
// the store; failing, they are only forfeited (never served twice). It has its own
// time budget: the grace period may have been spent waiting for connections.
// releaseTimeout bounds giving leased token uses back at shutdown.
const releaseTimeout = 5 * time.Second

func releaseLeases(a *auth.Service, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := a.ReleaseLeases(ctx); err != nil {
		log.Warn("unused token uses not given back; they count as used", "error", err.Error())
	}
	st := a.LeaseStats()
	log.Info("token leases", "leases", st.Leases, "uses_leased", st.Leased, "uses_served", st.Served, "uses_returned", st.Returned, "uses_forfeited", st.Forfeited, "largest_lease", st.Largest)
}

// bootstrapAdmin ensures the configured administrator exists. It is safe
// with several tasks starting at once: the user is created with a
// conditional create, so exactly one task creates it. A configured password
// is (re)applied only when the stored hash does not already match it;
// without one, a random password is generated only by the task whose create
// succeeds and printed once to stderr - never to the log.
func bootstrapAdmin(ctx context.Context, cfg Config, store storage.MetadataStore, a *auth.Service, log *slog.Logger, stderr io.Writer) error {
	pw := cfg.AdminPassword
	generated := false
	if pw == "" {
		if _, err := store.GetUser(ctx, cfg.AdminUser); err == nil {
			return nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		pw, generated = base64.RawURLEncoding.EncodeToString(b), true
	}
	hash, err := a.HashPassword(pw)
	if err != nil {
		return err
	}
	u := storage.User{Name: cfg.AdminUser, ID: storage.NewAccountID(), PasswordHash: hash, Permissions: []string{storage.PermAdmin}, CreatedAt: time.Now().UTC()}
	err = store.CreateUser(ctx, u)
	switch {
	case err == nil:
		log.Info("administrator bootstrapped", "user", cfg.AdminUser, "password_generated", generated)
		if generated {
			fmt.Fprintf(stderr, "\n  Administrator %q created with password: %s\n  (shown only once; set %s to choose it)\n\n", cfg.AdminUser, pw, contract.EnvAdminPassword)
		}
		return nil
	case !errors.Is(err, storage.ErrExists):
		return fmt.Errorf("bootstrap administrator: %w", err)
	case generated:
		return nil // exists already; its password is not ours to change
	}
	existing, err := store.GetUser(ctx, cfg.AdminUser)
	if err != nil {
		return fmt.Errorf("bootstrap administrator: %w", err)
	}
	if ok, _ := auth.VerifyPassword(existing.PasswordHash, pw); ok && existing.Has(storage.PermAdmin) {
		return nil
	}
	// The same account with the configured password: its tokens stay valid. The update
	// is conditional on the account read, so one deleted and re-created meanwhile (or
	// given its identity by a login) is not overwritten.
	u.ID, u.CreatedAt = existing.ID, existing.CreatedAt
	if err := store.UpdateUser(ctx, u, existing.ID); err != nil {
		return fmt.Errorf("bootstrap administrator: %w", err)
	}
	log.Info("administrator password applied", "user", cfg.AdminUser)
	return nil
}

// healthcheck is the container's health probe (the image has no shell or
// curl): GET /health on the local port, exit 0 on 200 and 1 otherwise.
func healthcheck(ctx context.Context, addr string, stderr io.Writer) int {
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+contract.HealthPath, nil)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}

// logSandbox starts one child at start-up and logs which confinement layers this
// kernel and container allow: on Fargate, Landlock depends on the platform's kernel.
func logSandbox(ctx context.Context, pool *validator.Pool, log *slog.Logger) {
	c := pool.Config()
	sb, _, err := pool.Probe(ctx)
	attrs := []any{"pool_size", c.Size, "deadline", c.Deadline.String(), "memory_bytes", c.MemoryBytes,
		"rlimits", sb.Rlimits, "seccomp", sb.Seccomp, "landlock_abi", sb.LandlockABI, "notes", sb.Notes}
	if err != nil {
		log.Error("validator sandbox unavailable: downloads of versions with a validator will be refused", append(attrs, "error", err.Error())...)
		return
	}
	log.Info("validator sandbox", attrs...)
}

// sandboxReport prints what a validator child's sandbox blocked, layer by layer.
func sandboxReport(ctx context.Context, vc validator.Config, stdout, stderr io.Writer) int {
	pool, err := validator.New(vc)
	if err != nil {
		fmt.Fprintln(stderr, "registry:", err)
		return 2
	}
	sb, probes, err := pool.Probe(ctx)
	for _, p := range probes {
		verdict := "allowed"
		if p.Blocked {
			verdict = "blocked"
		}
		fmt.Fprintf(stdout, "%-8s %-42s %-7s %s\n", p.Layer, p.Attempt, verdict, p.Detail)
	}
	fmt.Fprintf(stdout, "rlimits %v, seccomp %v, landlock ABI %d, %d environment variables\n", sb.Rlimits, sb.Seccomp, sb.LandlockABI, sb.Env)
	for _, n := range sb.Notes {
		fmt.Fprintln(stdout, "note:", n)
	}
	if err != nil {
		fmt.Fprintln(stderr, "registry:", err)
		return 1
	}
	if !sb.Rlimits || !sb.Seccomp {
		return 1
	}
	return 0
}
