package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/acme/module-registry/runtime/contract"
)

// Secrets Manager settings.
const (
	// EnvSecretName names the Secrets Manager secret (JSON with the
	// contract.JWTField* fields).
	EnvSecretName = contract.EnvJWTSecretName
	// DefaultSecretName is the secret's default name.
	DefaultSecretName = contract.DefaultJWTSecretName
	// DefaultRefreshInterval is how often the cached secret is re-read.
	DefaultRefreshInterval = 5 * time.Minute
)

// SecretsManagerAPI is the part of the Secrets Manager client used here.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Settings are the token settings stored with the secret.
type Settings struct {
	Algorithm       string // always HS256
	ExpirationHours int
	MaxUses         int
}

// TokenTTL is the token lifetime the settings ask for.
func (s Settings) TokenTTL() time.Duration { return time.Duration(s.ExpirationHours) * time.Hour }

// ParseSecret parses the secret's JSON document, reporting every malformed
// field at once. jwt_algorithm must be HS256 (the only algorithm the
// registry signs with), jwt_expiration_hours 1-24 and jwt_max_uses >= 1,
// both whole numbers.
func ParseSecret(raw string) ([]byte, Settings, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, Settings{}, fmt.Errorf("secret is not a JSON object with %s, %s, %s, %s: %v",
			contract.JWTFieldSecret, contract.JWTFieldAlgorithm, contract.JWTFieldExpirationHours, contract.JWTFieldMaxUses, err)
	}
	var errs []error
	// field decodes the named field into dst (a pointer to a pointer, left
	// nil when the field is absent or null) and reports whether it is usable.
	field := func(name string, dst any, kind string) bool {
		raw, ok := doc[name]
		if ok && json.Unmarshal(raw, dst) != nil {
			errs = append(errs, fmt.Errorf("%s must be a JSON %s, got %s", name, kind, raw))
			return false
		}
		return true
	}
	var secret, algorithm *string
	var hours, uses *float64
	okSecret := field(contract.JWTFieldSecret, &secret, "string")
	okAlgorithm := field(contract.JWTFieldAlgorithm, &algorithm, "string")
	okHours := field(contract.JWTFieldExpirationHours, &hours, "number")
	okUses := field(contract.JWTFieldMaxUses, &uses, "number")

	var key []byte
	switch {
	case !okSecret:
	case secret == nil:
		errs = append(errs, fmt.Errorf("%s is missing", contract.JWTFieldSecret))
	case len(*secret) < MinSecretBytes:
		errs = append(errs, fmt.Errorf("%s must be at least %d bytes, got %d", contract.JWTFieldSecret, MinSecretBytes, len(*secret)))
	default:
		key = []byte(*secret)
	}
	s := Settings{Algorithm: "HS256"}
	switch {
	case !okAlgorithm:
	case algorithm == nil:
		errs = append(errs, fmt.Errorf("%s is missing", contract.JWTFieldAlgorithm))
	case *algorithm != "HS256":
		errs = append(errs, fmt.Errorf("%s must be HS256, got %q", contract.JWTFieldAlgorithm, *algorithm))
	}
	whole := func(name string, ok bool, v *float64, lo, hi float64) int {
		switch {
		case !ok:
		case v == nil:
			errs = append(errs, fmt.Errorf("%s is missing", name))
		case *v != math.Trunc(*v) || *v < lo || *v > hi:
			if hi == math.MaxInt32 {
				errs = append(errs, fmt.Errorf("%s must be a whole number >= %g, got %g", name, lo, *v))
			} else {
				errs = append(errs, fmt.Errorf("%s must be a whole number from %g to %g, got %g", name, lo, hi, *v))
			}
		default:
			return int(*v)
		}
		return 0
	}
	s.ExpirationHours = whole(contract.JWTFieldExpirationHours, okHours, hours, 1, 24)
	s.MaxUses = whole(contract.JWTFieldMaxUses, okUses, uses, 1, math.MaxInt32)
	if err := errors.Join(errs...); err != nil {
		return nil, Settings{}, err
	}
	return key, s, nil
}

// SecretsManagerOptions configures NewSecretsManager.
type SecretsManagerOptions struct {
	Name            string        // default DefaultSecretName
	RefreshInterval time.Duration // default DefaultRefreshInterval
	Logger          *slog.Logger  // default slog.Default()
}

// SecretsManager is a Provider reading the JWT secret from AWS Secrets
// Manager. It signs with the AWSCURRENT version and also verifies with
// AWSPREVIOUS, so a rotation does not invalidate tokens issued just before
// it. The value is cached and re-read in the background; when Secrets
// Manager becomes unreachable the last good value keeps being served.
type SecretsManager struct {
	client   SecretsManagerAPI
	opts     SecretsManagerOptions
	mu       sync.RWMutex
	keys     Keys
	settings Settings
	fetched  time.Time
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// NewSecretsManager reads the secret once (an error if that fails or the
// value is malformed) and starts the background refresh; Close stops it.
func NewSecretsManager(ctx context.Context, client SecretsManagerAPI, opts SecretsManagerOptions) (*SecretsManager, error) {
	if opts.Name == "" {
		opts.Name = DefaultSecretName
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &SecretsManager{client: client, opts: opts, stop: make(chan struct{}), done: make(chan struct{})}
	if err := p.Refresh(ctx); err != nil {
		return nil, err
	}
	go p.loop()
	return p, nil
}

func (p *SecretsManager) loop() {
	defer close(p.done)
	t := time.NewTicker(p.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := p.Refresh(ctx); err != nil {
				p.mu.RLock()
				age := time.Since(p.fetched)
				p.mu.RUnlock()
				p.opts.Logger.Warn("JWT secret refresh failed; serving the cached secret", "secret", p.opts.Name, "cached_age", age.Round(time.Second).String(), "error", err.Error())
			}
			cancel()
		}
	}
}

// Close stops the background refresh.
func (p *SecretsManager) Close() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// Refresh re-reads AWSCURRENT and AWSPREVIOUS now. On failure the cache is
// left as it was.
func (p *SecretsManager) Refresh(ctx context.Context) error {
	cur, err := p.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &p.opts.Name, VersionStage: strPtr("AWSCURRENT")})
	if err != nil {
		return fmt.Errorf("reading secret %s from Secrets Manager: %w", p.opts.Name, err)
	}
	if cur.SecretString == nil {
		return fmt.Errorf("secret %s has no string value", p.opts.Name)
	}
	key, settings, err := ParseSecret(*cur.SecretString)
	if err != nil {
		return fmt.Errorf("secret %s (AWSCURRENT): %w", p.opts.Name, err)
	}
	var prevKey []byte
	prev, err := p.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &p.opts.Name, VersionStage: strPtr("AWSPREVIOUS")})
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		// No rotation yet.
	case err != nil:
		return fmt.Errorf("reading secret %s (AWSPREVIOUS): %w", p.opts.Name, err)
	case prev.SecretString != nil:
		if k, _, perr := ParseSecret(*prev.SecretString); perr == nil {
			prevKey = k
		} else {
			p.opts.Logger.Warn("previous JWT secret version is malformed; only the current one verifies", "secret", p.opts.Name, "error", perr.Error())
		}
	}
	p.mu.Lock()
	p.keys, p.settings, p.fetched = Keys{Current: key, Previous: prevKey}, settings, time.Now()
	p.mu.Unlock()
	return nil
}

// Keys implements Provider from the cache.
func (p *SecretsManager) Keys(context.Context) (Keys, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.keys.Current) == 0 {
		return Keys{}, ErrNoSecret
	}
	return p.keys, nil
}

// Settings returns the token settings of the current version.
func (p *SecretsManager) Settings() Settings {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.settings
}

func strPtr(s string) *string { return &s }

// ResolveOptions configures ResolveWithSecretsManager.
type ResolveOptions struct {
	Getenv     func(string) string
	Production bool
	Logger     *slog.Logger
	// SecretsManager is consulted first when not nil. The caller passes a
	// client only when REGISTRY_BACKEND=aws or JWT_SECRET_NAME is set, so
	// the embedded default never needs AWS.
	SecretsManager  SecretsManagerAPI
	RefreshInterval time.Duration
}

// Resolved is the outcome of ResolveWithSecretsManager.
type Resolved struct {
	Provider Provider
	// Settings are the secret's token settings (nil unless the secret came
	// from Secrets Manager).
	Settings *Settings
	// Source is "secretsmanager", "env" or "generated".
	Source string
	// Close releases the provider (stops the refresh); never nil.
	Close func()
}

// ResolveWithSecretsManager picks the provider in this order:
//
//  1. Secrets Manager (secret JWT_SECRET_NAME, default acme-jwt-secret), when
//     a client is given: it follows rotations and verifies AWSPREVIOUS too,
//     so it wins over JWT_SECRET, which is a copy of jwt_secret taken when
//     the task started.
//  2. JWT_SECRET (and JWT_SECRET_PREVIOUS) from the environment, with a
//     warning when Secrets Manager was consulted and failed.
//  3. Outside production only, a generated development secret.
//
// Production with no usable secret is an error naming what was tried.
func ResolveWithSecretsManager(ctx context.Context, o ResolveOptions) (Resolved, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	name := o.Getenv(EnvSecretName)
	if name == "" {
		name = DefaultSecretName
	}
	var smErr error
	if o.SecretsManager != nil {
		sm, err := NewSecretsManager(ctx, o.SecretsManager, SecretsManagerOptions{Name: name, RefreshInterval: o.RefreshInterval, Logger: o.Logger})
		if err == nil {
			st := sm.Settings()
			o.Logger.Info("JWT secret from Secrets Manager", "secret", name, "expiration_hours", st.ExpirationHours, "max_uses", st.MaxUses)
			return Resolved{Provider: sm, Settings: &st, Source: "secretsmanager", Close: sm.Close}, nil
		}
		smErr = err
	}
	p, err := FromEnv(o.Getenv)
	switch {
	case err == nil:
		if smErr != nil {
			o.Logger.Warn("Secrets Manager unusable at start-up; using "+EnvSecret+" (rotations are not followed until restart)", "secret", name, "error", smErr.Error())
		}
		return Resolved{Provider: p, Source: "env", Close: func() {}}, nil
	case !errors.Is(err, ErrNoSecret):
		return Resolved{}, err
	}
	if o.Production {
		if smErr != nil {
			return Resolved{}, fmt.Errorf("no usable JWT secret in production: %v; and %s is not set", smErr, EnvSecret)
		}
		return Resolved{}, fmt.Errorf("%s is required in production (at least %d bytes)", EnvSecret, MinSecretBytes)
	}
	if smErr != nil {
		o.Logger.Warn("Secrets Manager unusable; falling back to a development secret", "secret", name, "error", smErr.Error())
	}
	gp, err := Resolve(o.Getenv, false, o.Logger)
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{Provider: gp, Source: "generated", Close: func() {}}, nil
}
