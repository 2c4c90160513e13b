package api

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
)

// Length caps for package coordinates.
const (
	MaxNameLen    = 128
	MaxVersionLen = 64
)

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validIdent: starts with a letter or digit, then letters, digits and the
// given punctuation, no "..", at most max bytes. This rules out path
// separators, traversal, whitespace, control and non-ASCII characters.
func validIdent(kind, s string, max int, punct string) error {
	switch {
	case s == "":
		return errorf(http.StatusBadRequest, "%s must not be empty", kind)
	case len(s) > max:
		return errorf(http.StatusBadRequest, "%s longer than %d characters", kind, max)
	case !isAlnum(s[0]):
		return errorf(http.StatusBadRequest, "%s must start with a letter or digit", kind)
	case strings.Contains(s, ".."):
		return errorf(http.StatusBadRequest, "%s must not contain \"..\"", kind)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune(punct, rune(c)) {
			return errorf(http.StatusBadRequest, "%s contains invalid character %q (allowed: letters, digits and %q)", kind, c, punct)
		}
	}
	return nil
}

// ValidateName checks a package name.
func ValidateName(s string) error { return validIdent("package name", s, MaxNameLen, "._-") }

// ValidateVersion checks a package version.
func ValidateVersion(s string) error { return validIdent("version", s, MaxVersionLen, "._-+") }

// ParseHexSHA256 parses 64 hex digits (either case) into lowercase hex.
func ParseHexSHA256(s string) (string, error) {
	if len(s) != 64 {
		return "", errorf(http.StatusBadRequest, "SHA-256 must be 64 hex digits, got %d characters", len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", errorf(http.StatusBadRequest, "SHA-256 is not hexadecimal")
	}
	return strings.ToLower(s), nil
}

// ParseContentDigest parses an RFC 9530 Content-Digest/Repr-Digest field
// (a structured-field dictionary such as `sha-256=:BASE64:, sha-512=:...:`)
// and returns the sha-256 value as lowercase hex, or "" when the field has
// no sha-256 member (other algorithms are ignored, as the RFC allows).
func ParseContentDigest(field string) (string, error) {
	if len(field) > 4096 {
		return "", errorf(http.StatusBadRequest, "Content-Digest too long")
	}
	found := ""
	for _, member := range strings.Split(field, ",") {
		member = strings.Trim(member, " \t")
		if member == "" {
			return "", errorf(http.StatusBadRequest, "Content-Digest has an empty member")
		}
		key, val, ok := strings.Cut(member, "=")
		if !ok || key == "" {
			return "", errorf(http.StatusBadRequest, "Content-Digest member %q is not key=:value:", member)
		}
		for i := 0; i < len(key); i++ {
			c := key[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '*') {
				return "", errorf(http.StatusBadRequest, "Content-Digest key %q is invalid", key)
			}
		}
		if p := strings.IndexByte(val, ';'); p >= 0 { // ignore parameters
			val = val[:p]
		}
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return "", errorf(http.StatusBadRequest, "Content-Digest value for %q must be a byte sequence :base64:", key)
		}
		raw, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err != nil {
			return "", errorf(http.StatusBadRequest, "Content-Digest value for %q is not base64", key)
		}
		if key != "sha-256" {
			continue
		}
		if len(raw) != 32 {
			return "", errorf(http.StatusBadRequest, "Content-Digest sha-256 must be 32 bytes, got %d", len(raw))
		}
		h := hex.EncodeToString(raw)
		if found != "" && found != h {
			return "", errorf(http.StatusBadRequest, "Content-Digest has conflicting sha-256 values")
		}
		found = h
	}
	return found, nil
}

// FormatDigest renders a lowercase-hex SHA-256 as an RFC 9530 field value.
func FormatDigest(hexSum string) string {
	raw, _ := hex.DecodeString(hexSum)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(raw) + ":"
}

// expectedDigest returns the digest the client declared for an upload
// ("" if none), from X-Checksum-SHA256 and/or Content-Digest.
func expectedDigest(h http.Header) (string, error) {
	var fromX, fromCD string
	if vals := h.Values("X-Checksum-SHA256"); len(vals) > 0 {
		if len(vals) > 1 {
			return "", errorf(http.StatusBadRequest, "X-Checksum-SHA256 given more than once")
		}
		d, err := ParseHexSHA256(strings.TrimSpace(vals[0]))
		if err != nil {
			return "", errorf(http.StatusBadRequest, "X-Checksum-SHA256: %v", err)
		}
		fromX = d
	}
	if vals := h.Values("Content-Digest"); len(vals) > 0 {
		d, err := ParseContentDigest(strings.Join(vals, ", "))
		if err != nil {
			return "", err
		}
		fromCD = d
	}
	if fromX != "" && fromCD != "" && fromX != fromCD {
		return "", errorf(http.StatusBadRequest, "X-Checksum-SHA256 and Content-Digest disagree")
	}
	if fromX != "" {
		return fromX, nil
	}
	return fromCD, nil
}
