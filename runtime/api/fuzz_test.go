package api

import (
	"encoding/hex"
	"strings"
	"testing"
	"unicode"
)

func checkIdent(t *testing.T, s string, err error, max int) {
	if err != nil {
		if _, ok := err.(*Error); !ok {
			t.Fatalf("validation error %T is not *Error", err)
		}
		return
	}
	if s == "" || len(s) > max || strings.Contains(s, "..") || s == "." ||
		strings.ContainsAny(s, "/\\:%\x00 ") || s[0] == '.' || s[0] == '-' {
		t.Fatalf("accepted dangerous identifier %q", s)
	}
	for _, r := range s {
		if r > unicode.MaxASCII || unicode.IsControl(r) {
			t.Fatalf("accepted non-ASCII or control character in %q", s)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"lib", "my-lib_2.0", "../etc", "a/b", "..", ".", "a\x00", "ü", strings.Repeat("a", 129), "-x", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkIdent(t, s, ValidateName(s), MaxNameLen) })
}

func FuzzValidateVersion(f *testing.F) {
	for _, s := range []string{"1.0.0", "1.0.0+build.1", "1.0.0-rc.1", "..", "1/2", "1\\2", "1\n", strings.Repeat("1", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkIdent(t, s, ValidateVersion(s), MaxVersionLen) })
}

func FuzzParseContentDigest(f *testing.F) {
	for _, s := range []string{
		"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
		"sha-512=:AAAA:, sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
		"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:;param=1",
		"sha-256=47DEQ", "sha-256=::", "=:AA==:", ",", "", "sha-256=:AA==:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseContentDigest(s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		if d == "" {
			return
		}
		if raw, herr := hex.DecodeString(d); herr != nil || len(raw) != 32 || d != strings.ToLower(d) {
			t.Fatalf("accepted digest %q is not 64 lowercase hex", d)
		}
		// Round trip: the formatted field parses back to the same digest.
		if back, err := ParseContentDigest(FormatDigest(d)); err != nil || back != d {
			t.Fatalf("round trip of %q failed: %q %v", d, back, err)
		}
	})
}

func FuzzParseHexSHA256(f *testing.F) {
	for _, s := range []string{strings.Repeat("a", 64), strings.Repeat("G", 64), "", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseHexSHA256(s)
		if err == nil && (len(d) != 64 || d != strings.ToLower(s)) {
			t.Fatalf("bad result %q for %q", d, s)
		}
	})
}
