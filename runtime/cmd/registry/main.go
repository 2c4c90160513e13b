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
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
)

func main() {
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
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := serve(ctx, cfg, getenv, log, stderr); err != nil {
		log.Error("registry stopped", "error", err.Error())
		fmt.Fprintln(stderr, "registry:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg Config, getenv func(string) string, log *slog.Logger, stderr io.Writer) error {
	store, err := embedded.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	defer store.Close()

	keys, err := secrets.Resolve(getenv, cfg.Production, log)
	if err != nil {
		return err
	}
	authSvc, err := auth.New(store, keys, auth.Options{})
	if err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, cfg, store, authSvc, log, stderr); err != nil {
		return err
	}

	handler := api.New(api.Config{Backend: store.Backend(), Auth: authSvc, Logger: log, MaxUploadBytes: cfg.MaxUploadBytes}).Handler()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "data_dir", cfg.DataDir, "production", cfg.Production, "max_upload_bytes", cfg.MaxUploadBytes)

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
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// bootstrapAdmin ensures the configured administrator exists. A configured
// password is (re)applied on every start; without one, a random password is
// generated when the user does not exist yet and printed once to stderr -
// never to the log.
func bootstrapAdmin(ctx context.Context, cfg Config, store storage.MetadataStore, a *auth.Service, log *slog.Logger, stderr io.Writer) error {
	pw := cfg.AdminPassword
	generated := false
	if pw == "" {
		_, err := store.GetUser(ctx, cfg.AdminUser)
		if err == nil {
			return nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
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
	u := storage.User{Name: cfg.AdminUser, PasswordHash: hash, Permissions: []string{storage.PermAdmin}, CreatedAt: time.Now().UTC()}
	if err := store.PutUser(ctx, u); err != nil {
		return fmt.Errorf("bootstrap administrator: %w", err)
	}
	log.Info("administrator bootstrapped", "user", cfg.AdminUser, "password_generated", generated)
	if generated {
		fmt.Fprintf(stderr, "\n  Administrator %q created with password: %s\n  (shown only once; set REGISTRY_ADMIN_PASSWORD to choose it)\n\n", cfg.AdminUser, pw)
	}
	return nil
}
