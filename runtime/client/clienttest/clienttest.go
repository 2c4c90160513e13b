// Package clienttest runs a registry in the test's process - runtime/api on the
// embedded backend behind an httptest server - for tests of the client and the
// command line.
package clienttest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/runtime/validator"
)

// AdminPassword is the password of the registry's administrator "admin".
const AdminPassword = "admin-password-123"

// Registry is a running registry.
type Registry struct {
	URL string
	// Store is the embedded backend's store (nil on another backend).
	Store *embedded.Store
}

// Start runs a registry on the embedded backend, with an administrator, until the
// test ends. Logs go to logs (nil: discarded).
func Start(t testing.TB, logs io.Writer) *Registry {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := StartBackend(t, st.Backend(), logs)
	r.Store = st
	return r
}

// StartBackend runs a registry on backend (such as the AWS backend against an
// emulator); Store stays nil. It runs no validators: a download of a version with one
// is refused.
func StartBackend(t testing.TB, backend storage.Backend, logs io.Writer) *Registry {
	t.Helper()
	return start(t, backend, logs, nil)
}

// StartValidating runs a registry on the embedded backend, like Start, with a validator
// sandbox. The test binary is the sandbox's child: its TestMain must call
// validator.ChildMain first.
func StartValidating(t testing.TB, logs io.Writer) *Registry {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pool, err := validator.New(validator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, st.Backend(), logs, pool)
	r.Store = st
	return r
}

func start(t testing.TB, backend storage.Backend, logs io.Writer, pool *validator.Pool) *Registry {
	t.Helper()
	key := []byte(strings.Repeat("k", secrets.MinSecretBytes))
	svc, err := auth.New(backend.Meta, secrets.Static{Current: key}, auth.Options{Argon2: auth.Argon2Params{Time: 1, MemKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := svc.HashPassword(AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := backend.Meta.PutUser(context.Background(), storage.User{Name: "admin", PasswordHash: hash, Permissions: []string{storage.PermAdmin}}); err != nil {
		t.Fatal(err)
	}
	if logs == nil {
		logs = io.Discard
	}
	srv := httptest.NewServer(api.New(api.Config{Backend: backend, Auth: svc, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Validators: pool}).Handler())
	t.Cleanup(srv.Close)
	return &Registry{URL: srv.URL}
}

// Client returns a client of the registry logged in as user.
func (r *Registry) Client(t testing.TB, user, password string) *client.Client {
	t.Helper()
	c, err := client.New(r.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(context.Background(), user, password); err != nil {
		t.Fatalf("login as %s: %v", user, err)
	}
	return c
}

// Admin returns a client logged in as the administrator.
func (r *Registry) Admin(t testing.TB) *client.Client { return r.Client(t, "admin", AdminPassword) }

// Tamper replaces the stored bytes of a package version behind the registry's back,
// leaving its recorded digest as it was.
func (r *Registry) Tamper(t testing.TB, name, version string, content []byte) {
	t.Helper()
	p, err := r.Store.GetPackage(context.Background(), name, version)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Store.BlobPath(p.BlobKey), content, 0o600); err != nil {
		t.Fatal(err)
	}
}
