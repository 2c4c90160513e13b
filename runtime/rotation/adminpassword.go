package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage"
)

// MinAdminPasswordLength is the shortest administrator password written: 32 letters and
// digits carry about 190 bits.
const MinAdminPasswordLength = 32

// Users is the part of the registry's metadata store the administrator rotation uses.
type Users interface {
	GetUser(ctx context.Context, name string) (storage.User, error)
	PutUser(ctx context.Context, u storage.User) error
}

// AdminPassword rotates the bootstrap administrator's password secret, whose value is
// {"password": "..."}. The registry's task role cannot read that secret, and the runtime
// reads the password only at start (to bootstrap the administrator), so the rotation
// itself applies the new password where logins check it: setSecret stores its argon2id
// hash (runtime/auth, the runtime's own hashing) on the administrator in the users
// table. From then on the administrator logs in with the new password and no longer with
// the old one, with no redeploy and no restart.
type AdminPassword struct {
	Users Users
	// User is the administrator's name (REGISTRY_ADMIN_USER of the registry).
	User string
	// Argon2 tunes the hash. Default: auth.DefaultArgon2, what the runtime uses.
	Argon2 auth.Argon2Params
}

var _ Strategy = AdminPassword{}

// Next generates a new password of the current length, at least MinAdminPasswordLength.
func (a AdminPassword) Next(current string) (string, error) {
	old, err := password(current)
	if err != nil {
		return "", fmt.Errorf("rotation: current version: %w", err)
	}
	pw, err := Generate(max(len(old), MinAdminPasswordLength))
	if err != nil {
		return "", err
	}
	v, err := json.Marshal(map[string]string{contract.AdminPasswordField: pw})
	return string(v), err
}

// Apply stores the pending password's hash on the administrator. An administrator that
// does not exist yet is left to the registry, which creates it from AWSCURRENT when it
// first starts (on AWS that is after this rotation, so with the new value).
func (a AdminPassword) Apply(ctx context.Context, pending string) error {
	pw, err := password(pending)
	if err != nil {
		return fmt.Errorf("rotation: pending version: %w", err)
	}
	u, found, err := a.administrator(ctx)
	if !found || err != nil {
		return err
	}
	if ok, _ := auth.VerifyPassword(u.PasswordHash, pw); ok {
		return nil // applied by an earlier attempt
	}
	params := a.Argon2
	if params == (auth.Argon2Params{}) {
		params = auth.DefaultArgon2
	}
	if u.PasswordHash, err = auth.HashPassword(pw, params); err != nil {
		return fmt.Errorf("rotation: hash: %w", err)
	}
	if err := a.Users.PutUser(ctx, u); err != nil {
		return fmt.Errorf("rotation: store administrator %q: %w", a.User, err)
	}
	return nil
}

// Test checks that the administrator now logs in with the pending password and not
// with the current one.
func (a AdminPassword) Test(ctx context.Context, current, pending string) error {
	next, err := password(pending)
	if err != nil {
		return fmt.Errorf("rotation: pending version: %w", err)
	}
	old, err := password(current)
	if err != nil {
		return fmt.Errorf("rotation: current version: %w", err)
	}
	if len(next) < MinAdminPasswordLength || next == old {
		return fmt.Errorf("rotation: pending password is shorter than %d characters or equals the current one", MinAdminPasswordLength)
	}
	u, found, err := a.administrator(ctx)
	if !found || err != nil {
		return err
	}
	if ok, _ := auth.VerifyPassword(u.PasswordHash, next); !ok {
		return fmt.Errorf("rotation: administrator %q does not accept the pending password", a.User)
	}
	if ok, _ := auth.VerifyPassword(u.PasswordHash, old); ok {
		return fmt.Errorf("rotation: administrator %q still accepts the current password", a.User)
	}
	return nil
}

// Settle applies the now current password again if something stored another one while
// the labels moved (a registry task that started with the old value re-applies it).
func (a AdminPassword) Settle(ctx context.Context, current string) error {
	return a.Apply(ctx, current)
}

// administrator reads the administrator's user; found is false when there is none yet.
func (a AdminPassword) administrator(ctx context.Context) (storage.User, bool, error) {
	u, err := a.Users.GetUser(ctx, a.User)
	if errors.Is(err, storage.ErrNotFound) {
		return u, false, nil
	}
	if err != nil {
		return u, false, fmt.Errorf("rotation: read administrator %q: %w", a.User, err)
	}
	return u, true, nil
}

func password(value string) (string, error) {
	var v map[string]json.RawMessage
	var pw string
	if json.Unmarshal([]byte(value), &v) != nil {
		return "", errors.New("the value is not a JSON object")
	}
	if raw, ok := v[contract.AdminPasswordField]; !ok || json.Unmarshal(raw, &pw) != nil || pw == "" {
		return "", fmt.Errorf("the value has no string field %q", contract.AdminPasswordField)
	}
	return pw, nil
}
