package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/acme/module-registry/runtime/secrets"
)

// FuzzParseBearer: never panics; accepted tokens are three base64url parts.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"bearer a.b.c", "Bearer a.b.c", "bearer", "", "bearer a.b", "basic a.b.c", "bearer  a.b.c ", "bearer a.b.c\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := ParseBearer(h)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
			}
			return
		}
		if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \t\r\n/+=") {
			t.Fatalf("accepted malformed token %q", tok)
		}
	})
}

// FuzzVerify: arbitrary token text never verifies and never panics.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.sig",
		"a.b.c", "...", "",
	} {
		f.Add(s)
	}
	s, err := New(nil, secrets.Static{Current: keyA}, Options{Argon2: fastArgon2})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := s.Verify(context.Background(), raw); err == nil {
			t.Fatalf("forged token %q verified", raw)
		}
	})
}
