package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/client"
	"github.com/acme/module-registry/runtime/client/clienttest"
)

// onlyUser allows the user name and denies everybody else, with a reason.
func onlyUser(name string) []byte {
	return []byte(fmt.Sprintf(`function validate(input) {
  if (input.user.name === %q) return {allow: true, reason: "trusted"};
  return {allow: false, reason: input.user.name + " may not download " + input.package.name + " " + input.package.version};
}`, name))
}

// denyUser denies the user name and allows everybody else.
func denyUser(name string) []byte {
	return []byte(fmt.Sprintf(`function validate(input) {
  if (input.user.name === %q) return {allow: false, reason: input.user.name + " is blocked"};
  return {allow: true};
}`, name))
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// validatorUsers: alice uploads hello/1.0.0; bob may upload and download too, but is
// not its uploader; carol may only download.
func validatorUsers(t *testing.T) (reg *clienttest.Registry, admin, alice, bob, carol *client.Client) {
	t.Helper()
	ctx := context.Background()
	reg = clienttest.StartValidating(t, nil)
	admin = reg.Admin(t)
	for name, perms := range map[string][]string{
		"alice": {client.PermUpload, client.PermDownload},
		"bob":   {client.PermUpload, client.PermDownload},
		"carol": {client.PermDownload},
	} {
		_, err := admin.CreateUser(ctx, client.NewUser{Name: name, Password: name + "-password-123", Permissions: perms})
		require.NoError(t, err)
	}
	alice = reg.Client(t, "alice", "alice-password-123")
	bob = reg.Client(t, "bob", "bob-password-123")
	carol = reg.Client(t, "carol", "carol-password-123")
	_, err := alice.Push(ctx, "hello", "1.0.0", bytes.NewReader([]byte("hello bytes")), -1, nil)
	require.NoError(t, err)
	return reg, admin, alice, bob, carol
}

// download reads name/version through c and returns the bytes or the refusal.
func download(t *testing.T, c *client.Client, name, version string) ([]byte, error) {
	t.Helper()
	r, err := c.Open(context.Background(), name, version, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// refusal is the registry's 403 message, failing the test on anything else.
func refusal(t *testing.T, err error) string {
	t.Helper()
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusForbidden, apiErr.Status, "%v", err)
	require.ErrorIs(t, err, client.ErrForbidden)
	return apiErr.Message
}

func TestValidators(t *testing.T) {
	ctx := context.Background()
	_, admin, alice, _, carol := validatorUsers(t)

	deny := []byte(`function validate(input) { return {allow: false, reason: "not " + input.user.name} }`)
	v, err := admin.PutValidator(ctx, "hello", "1.0.0", deny)
	require.NoError(t, err)
	assert.Equal(t, client.Validator{Name: "hello", Version: "1.0.0", SHA256: hexSHA256(deny), Size: int64(len(deny)),
		UpdatedAt: v.UpdatedAt, UpdatedBy: "admin"}, v)
	assert.WithinDuration(t, time.Now(), v.UpdatedAt, time.Minute)
	src, sum, err := admin.GetValidator(ctx, "hello", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, deny, src)
	assert.Equal(t, v.SHA256, sum)

	for user, c := range map[string]*client.Client{"admin": admin, "alice": alice, "carol": carol} {
		_, err = download(t, c, "hello", "1.0.0")
		assert.Equal(t, "the package's validator denied the download: not "+user, refusal(t, err))
	}

	removed, err := admin.DeleteValidator(ctx, "hello", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, v.SHA256, removed.SHA256)
	_, _, err = admin.GetValidator(ctx, "hello", "1.0.0")
	assert.ErrorIs(t, err, client.ErrNotFound)
	_, err = admin.DeleteValidator(ctx, "hello", "1.0.0")
	assert.ErrorIs(t, err, client.ErrNotFound)
	got, err := download(t, carol, "hello", "1.0.0")
	require.NoError(t, err, "no validator: not gated")
	assert.Equal(t, "hello bytes", string(got))
}

// The validator decides by the caller's name: allowed users get the verified bytes,
// the others a 403 carrying the validator's own reason. (The presigned URL, gated
// the same way, needs the AWS backend: the end-to-end test covers it.)
func TestValidatorAllowsAndDeniesByUserName(t *testing.T) {
	ctx := context.Background()
	_, _, alice, bob, carol := validatorUsers(t)

	_, err := alice.PutValidator(ctx, "hello", "1.0.0", onlyUser("carol"))
	require.NoError(t, err)
	got, err := download(t, carol, "hello", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, "hello bytes", string(got))
	_, err = download(t, bob, "hello", "1.0.0")
	assert.Equal(t, "the package's validator denied the download: bob may not download hello 1.0.0", refusal(t, err))

	_, err = alice.PutValidator(ctx, "hello", "1.0.0", denyUser("carol"))
	require.NoError(t, err)
	_, err = download(t, carol, "hello", "1.0.0")
	assert.Equal(t, "the package's validator denied the download: carol is blocked", refusal(t, err))
	got, err = download(t, bob, "hello", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, "hello bytes", string(got))
}

// Only an administrator and the version's uploader manage its validator.
func TestValidatorPermissions(t *testing.T) {
	ctx := context.Background()
	_, admin, alice, bob, carol := validatorUsers(t)

	v, err := alice.PutValidator(ctx, "hello", "1.0.0", denyUser("carol"))
	require.NoError(t, err, "the uploader attaches")
	assert.Equal(t, "alice", v.UpdatedBy)
	for name, c := range map[string]*client.Client{"bob": bob, "carol": carol} {
		_, err := c.PutValidator(ctx, "hello", "1.0.0", onlyUser(name))
		assert.ErrorIs(t, err, client.ErrForbidden, "%s replaces", name)
		_, _, err = c.GetValidator(ctx, "hello", "1.0.0")
		assert.ErrorIs(t, err, client.ErrForbidden, "%s reads", name)
		_, err = c.DeleteValidator(ctx, "hello", "1.0.0")
		assert.ErrorIs(t, err, client.ErrForbidden, "%s removes", name)
	}
	src, _, err := alice.GetValidator(ctx, "hello", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, denyUser("carol"), src, "the refusals changed nothing")

	v, err = admin.PutValidator(ctx, "hello", "1.0.0", onlyUser("bob"))
	require.NoError(t, err, "an administrator replaces")
	assert.Equal(t, "admin", v.UpdatedBy)
	_, err = alice.DeleteValidator(ctx, "hello", "1.0.0")
	require.NoError(t, err, "the uploader removes")

	_, err = alice.PutValidator(ctx, "nothing", "1.0.0", onlyUser("bob"))
	assert.ErrorIs(t, err, client.ErrNotFound, "no such version")
	anonymous, err := client.New(alice.BaseURL(), nil)
	require.NoError(t, err)
	_, err = anonymous.PutValidator(ctx, "hello", "1.0.0", onlyUser("bob"))
	assert.ErrorIs(t, err, client.ErrNotLoggedIn)
}

// Sources are checked when attached; a script that fails when it runs fails closed.
func TestValidatorRefusalsAndFailClosed(t *testing.T) {
	ctx := context.Background()
	_, _, alice, _, carol := validatorUsers(t)

	_, err := alice.PutValidator(ctx, "hello", "1.0.0", []byte("function validate( {"))
	var apiErr *client.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.ErrorIs(t, err, client.ErrBadRequest)
	assert.Contains(t, apiErr.Message, "SyntaxError: validator.js: Line 1:")
	_, err = alice.PutValidator(ctx, "hello", "1.0.0", []byte("function check() { return {allow: true} }"))
	assert.ErrorIs(t, err, client.ErrBadRequest)
	assert.Contains(t, err.Error(), "must declare a top-level function validate")
	_, err = alice.PutValidator(ctx, "hello", "1.0.0", make([]byte, client.MaxValidatorBytes+1))
	assert.ErrorIs(t, err, client.ErrTooLarge, "refused before sending")
	_, _, err = alice.GetValidator(ctx, "hello", "1.0.0")
	assert.ErrorIs(t, err, client.ErrNotFound, "nothing was attached")
	for _, args := range [][2]string{{"", "1.0.0"}, {"hello", " "}} {
		_, err = alice.PutValidator(ctx, args[0], args[1], onlyUser("carol"))
		assert.ErrorContains(t, err, "must not be empty")
	}

	for src, outcome := range map[string]string{
		`function validate() { throw new Error("boom") }`:                "error",
		`function validate() { return {allow: "yes"} }`:                  "error",
		`function validate() { function f() { return f() + 1 } f() }`:    "memory",
		`function validate() { var s = "x"; for (;;) { s += s; s[0] } }`: "memory",
	} {
		_, err := alice.PutValidator(ctx, "hello", "1.0.0", []byte(src))
		require.NoError(t, err)
		_, err = download(t, carol, "hello", "1.0.0")
		assert.Contains(t, refusal(t, err), "the package's validator did not allow the download ("+outcome+")", src)
	}
}

// The client checks what the registry says against what it sent or received.
func TestValidatorIntegrity(t *testing.T) {
	ctx := context.Background()
	src := onlyUser("carol")
	var lie bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			sum := hexSHA256(body)
			assert.Equal(t, sum, r.Header.Get("X-Checksum-SHA256"), "the client declares the digest")
			if lie {
				sum = hexSHA256([]byte("other"))
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"name":"hello","version":"1.0.0","sha256_hash":%q,"size":%d,"updated_at":"2026-12-01T00:00:00Z","updated_by":"alice"}`, sum, len(body))
		case http.MethodGet:
			sum := hexSHA256(src)
			if lie {
				sum = hexSHA256([]byte("other"))
			}
			w.Header().Set("X-Checksum-SHA256", sum)
			_, _ = w.Write(src)
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, &client.Options{Token: "bearer x"})
	require.NoError(t, err)

	v, err := c.PutValidator(ctx, "hello", "1.0.0", src)
	require.NoError(t, err)
	assert.Equal(t, hexSHA256(src), v.SHA256)
	got, sum, err := c.GetValidator(ctx, "hello", "1.0.0")
	require.NoError(t, err)
	assert.Equal(t, src, got)
	assert.Equal(t, hexSHA256(src), sum)

	lie = true
	_, err = c.PutValidator(ctx, "hello", "1.0.0", src)
	var ie *client.IntegrityError
	require.ErrorAs(t, err, &ie, "the registry recorded another digest")
	assert.ErrorIs(t, err, client.ErrIntegrity)
	_, _, err = c.GetValidator(ctx, "hello", "1.0.0")
	require.ErrorAs(t, err, &ie, "the bytes do not match X-Checksum-SHA256")
	assert.True(t, strings.Contains(err.Error(), "validator"), "%v", err)
	assert.True(t, errors.Is(err, client.ErrIntegrity))
}
