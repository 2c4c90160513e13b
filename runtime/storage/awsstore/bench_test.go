package awsstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/api"
	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/secrets"
	"github.com/acme/module-registry/runtime/storage"
	"github.com/acme/module-registry/runtime/storage/awsstore"
	"github.com/acme/module-registry/runtime/storage/embedded"
	"github.com/acme/module-registry/runtime/throttle"
)

// benchSize is the artifact size of the transfer benchmarks. The emulator
// keeps objects in memory in one Python process: its figures say how much
// the registry's own path costs, not how fast S3 is.
const benchSize = 32 << 20

// BenchmarkTransfer uploads and downloads benchSize bytes through the API
// on the embedded backend and on the AWS backend against the emulator:
//
//	go test -run '^$' -bench Transfer -benchtime 5x ./runtime/storage/awsstore
func BenchmarkTransfer(b *testing.B) {
	content := bytes.Repeat([]byte("0123456789abcdef"), benchSize/16)
	sum := hexSum(content)
	backends := map[string]func(b *testing.B) storage.Backend{
		"embedded": func(b *testing.B) storage.Backend {
			st, err := embedded.Open(b.TempDir())
			require.NoError(b, err)
			b.Cleanup(func() { st.Close() })
			return st.Backend()
		},
		"aws-emulator": func(b *testing.B) storage.Backend {
			st, _ := env.NewStore(b, nil)
			return st.Backend()
		},
	}
	for _, name := range []string{"embedded", "aws-emulator"} {
		b.Run(name, func(b *testing.B) {
			backend := backends[name](b)
			svc, err := auth.New(backend.Meta, secrets.Static{Current: []byte(strings.Repeat("k", 32))}, auth.Options{MaxUses: 1 << 30, Argon2: auth.Argon2Params{Time: 1, MemKiB: 64, Threads: 1}})
			require.NoError(b, err)
			admin := storage.User{Name: "admin", ID: storage.NewAccountID(), PasswordHash: "x", Permissions: []string{storage.PermAdmin}}
			require.NoError(b, backend.Meta.PutUser(context.Background(), admin))
			tok, err := svc.Issue(context.Background(), admin)
			require.NoError(b, err)
			srv := httptest.NewServer(api.New(api.Config{Backend: backend, Auth: svc, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
				Limits: api.Limits{TokenRate: throttle.Unlimited, AddressRate: throttle.Unlimited}}).Handler())
			defer srv.Close()
			do := func(method, path string, body io.Reader) (int, int64) {
				req, _ := http.NewRequest(method, srv.URL+path, body)
				req.Header.Set("X-Authorization", tok)
				req.Header.Set("X-Checksum-SHA256", sum)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(b, err)
				defer resp.Body.Close()
				n, _ := io.Copy(io.Discard, resp.Body)
				return resp.StatusCode, n
			}
			seq := 0
			b.Run("upload", func(b *testing.B) {
				b.SetBytes(benchSize)
				for i := 0; i < b.N; i++ {
					seq++
					code, _ := do("PUT", fmt.Sprintf("/packages/up/%d", seq), bytes.NewReader(content))
					require.Equal(b, 201, code)
				}
			})
			code, _ := do("PUT", "/packages/down/1", bytes.NewReader(content))
			require.Equal(b, 201, code)
			if bs, ok := backend.Blobs.(*awsstore.Store); ok {
				// Reference: the same bytes through the store straight to
				// the emulator, without HTTP into the registry.
				b.Run("store-only-upload", func(b *testing.B) {
					b.SetBytes(benchSize)
					for i := 0; i < b.N; i++ {
						seq++
						w, err := bs.Create(context.Background(), "ref", fmt.Sprint(seq))
						require.NoError(b, err)
						_, err = w.Write(content)
						require.NoError(b, err)
						_, err = w.Commit(context.Background(), storage.Descriptor{Size: benchSize, SHA256: sum})
						require.NoError(b, err)
					}
				})
			}
			b.Run("download", func(b *testing.B) {
				b.SetBytes(benchSize)
				for i := 0; i < b.N; i++ {
					code, n := do("GET", "/packages/down/1", nil)
					require.Equal(b, 200, code)
					require.EqualValues(b, benchSize, n)
				}
			})
		})
	}
}
