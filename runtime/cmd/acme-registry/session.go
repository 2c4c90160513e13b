package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/acme/module-registry/runtime/client"
)

// store is where this user's logins are kept.
func (c *cli) store() (credentialStore, error) {
	if dir := c.getenv(envConfigDir); dir != "" {
		return credentialStore{dir: dir}, nil
	}
	base, err := c.userConfigDir()
	if err != nil {
		return credentialStore{}, fmt.Errorf("no user config directory to keep the token in (%v): set %s", err, envConfigDir)
	}
	return credentialStore{dir: filepath.Join(base, configDirName)}, nil
}

// registryURL is --registry, else $ACME_REGISTRY_URL, else the last login's.
func (c *cli) registryURL(creds credentials) (string, error) {
	for _, u := range []string{c.registry, c.getenv(envRegistry), creds.Current} {
		if u != "" {
			return u, nil
		}
	}
	return "", usagef("which registry? pass --registry URL or set %s (such as http://127.0.0.1:8080)", envRegistry)
}

// session is a client of the chosen registry with the saved (or $ACME_REGISTRY_TOKEN)
// token, and the store it came from.
type session struct {
	client *client.Client
	store  credentialStore
	creds  credentials
	url    string // the registry's normalized URL, the key of its saved login
}

func (c *cli) session() (*session, error) {
	st, err := c.store()
	if err != nil {
		return nil, err
	}
	creds, err := st.load()
	if err != nil {
		return nil, err
	}
	raw, err := c.registryURL(creds)
	if err != nil {
		return nil, err
	}
	cl, err := client.New(raw, &client.Options{Timeout: c.timeout, UserAgent: "acme-registry-cli"})
	if err != nil {
		return nil, usagef("%v", err)
	}
	s := &session{client: cl, store: st, creds: creds, url: cl.BaseURL()}
	if tok := c.getenv(envToken); tok != "" {
		cl.SetToken(tok)
	} else if saved, ok := creds.Registries[s.url]; ok {
		cl.SetToken(saved.Token)
	}
	return s, nil
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // URLs keep their "&"
	return enc.Encode(v)
}

// print writes v as JSON with --json, else the text form.
func (c *cli) print(v any, text func(w io.Writer)) error {
	if c.jsonOut {
		return encodeJSON(c.stdout, v)
	}
	text(c.stdout)
	return nil
}

// progress returns a ProgressFunc drawing a bar on stderr while stdout is a
// terminal (and no --json or --no-progress), and a function that ends the bar.
func (c *cli) progress(what string) (client.ProgressFunc, func()) {
	if !c.stdoutIsTerminal || c.jsonOut || c.noProgress {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	report := func(done, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(c.stderr),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionSetPredictTime(true),
			)
		}
		_ = bar.Set64(done)
	}
	return report, func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
}
