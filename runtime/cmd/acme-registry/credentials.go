package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/acme/module-registry/runtime/client"
)

// The tokens of this machine's logins live in <user config dir>/acme-registry/
// credentials.json (os.UserConfigDir: $XDG_CONFIG_HOME or ~/.config on Linux,
// ~/Library/Application Support on macOS, %AppData% on Windows), readable by the
// user only: the directory 0700, the file 0600. A file others can read is refused,
// as ssh refuses such keys.

const (
	configDirName   = "acme-registry"
	credentialsFile = "credentials.json"
	// maxCredentialsBytes bounds what is read back; a login takes well under 4 KiB.
	maxCredentialsBytes = 1 << 20
)

// savedLogin is one registry's login.
type savedLogin struct {
	User      string    `json:"user"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// credentials is the file's content: logins by registry URL, and the registry
// used when none is named.
type credentials struct {
	Current    string                `json:"current,omitempty"`
	Registries map[string]savedLogin `json:"registries"`
}

type credentialStore struct{ dir string }

func (s credentialStore) path() string { return filepath.Join(s.dir, credentialsFile) }

func (s credentialStore) load() (credentials, error) {
	c := credentials{Registries: map[string]savedLogin{}}
	f, err := os.Open(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return c, fmt.Errorf("%s holds tokens but others may read it (mode %04o): run chmod 600 %s, or log in again after removing it", s.path(), perm, s.path())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialsBytes+1))
	if err != nil {
		return c, err
	}
	if len(b) > maxCredentialsBytes {
		return c, fmt.Errorf("%s is larger than %d bytes: not a credentials file", s.path(), maxCredentialsBytes)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is not valid JSON (%v): remove it and log in again", s.path(), err)
	}
	if c.Registries == nil {
		c.Registries = map[string]savedLogin{}
	}
	return c, nil
}

// save writes the file atomically with mode 0600 in a 0700 directory.
func (s credentialStore) save(c credentials) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(s.dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return client.WriteFile(s.path(), bytes.NewReader(append(b, '\n')), 0o600)
}
