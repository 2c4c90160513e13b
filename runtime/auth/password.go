package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/acme/module-registry/runtime/throttle"
)

// Argon2Params tunes argon2id password hashing.
type Argon2Params struct {
	Time    uint32
	MemKiB  uint32
	Threads uint8
}

// DefaultArgon2 is the OWASP password storage recommendation for argon2id
// (19 MiB, 2 iterations, 1 lane): strong, and light enough that a login
// does not dominate the service's memory.
var DefaultArgon2 = Argon2Params{Time: 2, MemKiB: 19 * 1024, Threads: 1}

// MaxPasswordBytes bounds the work an attacker can make us do per attempt.
const MaxPasswordBytes = 1024

var b64 = base64.RawStdEncoding

// HashPassword returns a PHC-encoded argon2id hash of password.
func HashPassword(password string, p Argon2Params) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("password longer than %d bytes", MaxPasswordBytes)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.MemKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// VerifyPassword reports whether password matches the PHC-encoded hash.
func VerifyPassword(encoded, password string) (bool, error) {
	if len(password) > MaxPasswordBytes {
		return false, nil
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("unsupported password hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemKiB, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("bad argon2 parameters: %w", err)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("bad salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errors.New("bad hash")
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DefaultMemoryBudget is the memory assumed when the process has no memory limit
// (GOMEMLIMIT unset): the smallest registry task.
const DefaultMemoryBudget int64 = 512 << 20

// PasswordCheckLimit is how many argon2id computations with p may run at once in a
// process allowed memLimit bytes (debug.SetMemoryLimit(-1); math.MaxInt64 or <= 0 when
// none is set, then DefaultMemoryBudget is assumed) on procs CPUs: at most half the
// memory goes to the checks, and never more checks than CPUs, since each one keeps a
// CPU busy and more would only slow every check and every other request down.
func PasswordCheckLimit(memLimit int64, p Argon2Params, procs int) int {
	if memLimit <= 0 || memLimit == math.MaxInt64 {
		memLimit = DefaultMemoryBudget
	}
	perCheck := max(int64(p.MemKiB)<<10, 1)
	return max(1, min(int(memLimit/2/perCheck), procs))
}

// Password-check gate timings: a check that finds every slot taken waits at most
// PasswordCheckWait, and at most PasswordCheckQueue callers per slot wait at all.
const (
	PasswordCheckWait  = time.Second
	PasswordCheckQueue = 4
)

// NewPasswordGate is the gate for n concurrent argon2id computations.
func NewPasswordGate(n int) *throttle.Gate {
	return throttle.NewGate(n, PasswordCheckQueue*n, PasswordCheckWait, "password checks")
}
