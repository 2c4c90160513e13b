package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/runtime/auth"
	"github.com/acme/module-registry/runtime/contract"
	"github.com/acme/module-registry/runtime/storage/awsstore/awsstoretest"
	"github.com/acme/module-registry/test/emulator"
)

// The token-use lease tests run registry processes and count what their clients
// see: exactly the limit served across processes and restarts, never more, and
// after a SIGKILL at most what the dead process held on lease forfeited.

// noThrottle lets one client address and token send as fast as it can.
var noThrottle = []string{"REGISTRY_RATE_PER_TOKEN=0", "REGISTRY_RATE_PER_ADDRESS=0"}

// maxLeaseLost is what one process can forfeit of one token: the unused rest of its
// leases, below auth.DefaultMaxLease.
const maxLeaseLost = auth.DefaultMaxLease - 1

var leaseClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

// tally counts the answers of a hammer.
type tally struct {
	ok, limit, lost atomic.Int64 // 200; 403 for the use limit; no answer (process killed)
	other           atomic.Int64
	otherSample     atomic.Value
}

func (t *tally) String() string {
	return fmt.Sprintf("%d served, %d refused at the limit, %d unanswered, %d other (%v)", t.ok.Load(), t.limit.Load(), t.lost.Load(), t.other.Load(), t.otherSample.Load())
}

// hammer sends n GET /packages with tok from workers concurrent clients, worker i to
// urls[i%len(urls)], and counts the answers.
func hammer(urls []string, tok string, n, workers int) *tally {
	var t tally
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := urls[i%len(urls)]
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest("GET", url+"/packages", nil)
				req.Header.Set("X-Authorization", tok)
				resp, err := leaseClient.Do(req)
				if err != nil {
					t.lost.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 200:
					t.ok.Add(1)
				case resp.StatusCode == 403 && strings.Contains(string(body), "use limit"):
					t.limit.Add(1)
				default:
					t.other.Add(1)
					t.otherSample.Store(fmt.Sprintf("%d %s", resp.StatusCode, body))
				}
			}
		}()
	}
	wg.Wait()
	return &t
}

// leaseLog is the "token leases" line a registry logs when it stops.
type leaseLog struct {
	Leases    int `json:"leases"`
	Leased    int `json:"uses_leased"`
	Served    int `json:"uses_served"`
	Returned  int `json:"uses_returned"`
	Forfeited int `json:"uses_forfeited"`
	Largest   int `json:"largest_lease"`
}

// stop ends p with SIGTERM and returns its lease statistics.
func (p *proc) stop(t *testing.T) leaseLog {
	t.Helper()
	// A connection the client dialed and never used counts as active for a while
	// and would hold up the server's graceful shutdown.
	leaseClient.CloseIdleConnections()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, <-p.done, "stderr:\n%s\nlog:\n%s", p.stderr, p.stdout)
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		if strings.Contains(line, `"msg":"token leases"`) {
			var l leaseLog
			require.NoError(t, json.Unmarshal([]byte(line), &l))
			return l
		}
	}
	t.Fatalf("no lease statistics logged:\n%s", p.stdout)
	return leaseLog{}
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

func urlsOf(procs ...*proc) []string {
	var urls []string
	for _, p := range procs {
		urls = append(urls, p.url)
	}
	return urls
}

// tokenID is the jti of a bearer token.
func tokenID(t *testing.T, bearer string) string {
	t.Helper()
	var c jwt.RegisteredClaims
	_, _, err := jwt.NewParser().ParseUnverified(strings.TrimPrefix(bearer, "bearer "), &c)
	require.NoError(t, err)
	return c.ID
}

// One embedded registry restarted between bursts: the token's uses carry over, and
// over all the runs exactly its limit is served; a graceful stop forfeits nothing.
func TestTokenLimitAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	p := startRegistry(t, dir, noThrottle...)
	tok := p.token(t)
	served := 0
	for run := range 4 {
		if run > 0 {
			p = startRegistry(t, dir, noThrottle...)
		}
		got := hammer(urlsOf(p), tok, 300, 32)
		st := p.stop(t)
		t.Logf("run %d: %s; leases %+v", run, got, st)
		assert.Zero(t, got.other.Load()+got.lost.Load(), "%s", got)
		assert.Zero(t, st.Forfeited, "a graceful stop gives unused uses back")
		assert.Equal(t, st.Leased, st.Served+st.Returned)
		served += int(got.ok.Load())
	}
	assert.Equal(t, auth.DefaultMaxUses, served, "exactly the limit over four runs of 300 requests")
}

// SIGKILL while the registry holds a lease: at most the lease's unused rest is
// forfeited, and no use beyond the limit is ever served.
func TestSIGKILLMidLease(t *testing.T) {
	dir := t.TempDir()
	p := startRegistry(t, dir, noThrottle...)
	tok := p.token(t)
	served, forfeitedBound := 0, 0
	for kill := range 3 {
		if kill > 0 {
			p = startRegistry(t, dir, noThrottle...)
		}
		got := hammer(urlsOf(p), tok, 200, 32)
		// Killed at once, before an idle lease goes back (a lease window).
		p.kill(t)
		t.Logf("run %d, killed: %s", kill, got)
		assert.Zero(t, got.other.Load()+got.lost.Load(), "%s", got)
		served += int(got.ok.Load())
		forfeitedBound += maxLeaseLost
	}
	p = startRegistry(t, dir, noThrottle...)
	got := hammer(urlsOf(p), tok, auth.DefaultMaxUses, 32)
	p.stop(t)
	served += int(got.ok.Load())
	forfeited := auth.DefaultMaxUses - served
	t.Logf("after three kills: %d served in all, %d forfeited (bound %d), last run %s", served, forfeited, forfeitedBound, got)
	assert.GreaterOrEqual(t, forfeited, 0, "over-use: %d served of %d", served, auth.DefaultMaxUses)
	assert.LessOrEqual(t, forfeited, forfeitedBound, "each kill forfeits at most %d", maxLeaseLost)
	assert.Positive(t, got.limit.Load(), "the last run reached the limit")
}

// Two registry tasks on the AWS backend (tables in the emulator) serving one token.
func TestTokenLimitAcrossAWSProcesses(t *testing.T) {
	env := awsstoretest.New(t, emulator.Start(t))
	ctx := context.Background()
	cfg, err := env.Resources(ctx)
	require.NoError(t, err)
	const limit = 400
	secretName := "jwt-" + cfg.Bucket
	_, err = secretsmanager.NewFromConfig(env.AWS).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &secretName,
		SecretString: aws.String(`{"jwt_secret":"` + strings.Repeat("z", 32) + `","jwt_algorithm":"HS256","jwt_expiration_hours":10,"jwt_max_uses":` + strconv.Itoa(limit) + `}`)})
	require.NoError(t, err)
	vars := taskEnv(env, cfg, secretName, append([]string{contract.EnvJWTSecret + "="}, noThrottle...)...)
	procs := startRegistries(t, 2, vars...)
	uses := func(bearer string) int {
		t.Helper()
		out, err := env.DDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &cfg.Tables.Tokens, ConsistentRead: aws.Bool(true),
			Key: map[string]ddbtypes.AttributeValue{contract.AttrTokenID: &ddbtypes.AttributeValueMemberS{Value: tokenID(t, bearer)}}})
		require.NoError(t, err)
		n, err := strconv.Atoi(out.Item["uses"].(*ddbtypes.AttributeValueMemberN).Value)
		require.NoError(t, err)
		return n
	}

	// limit+100 requests at once, half to each task: exactly limit succeed.
	t.Run("ConcurrentAroundTheLimit", func(t *testing.T) {
		tok := procs[0].token(t)
		got := hammer(urlsOf(procs...), tok, limit+100, 32)
		t.Logf("%s", got)
		assert.EqualValues(t, limit, got.ok.Load(), "%s", got)
		assert.EqualValues(t, 100, got.limit.Load(), "%s", got)
		assert.Equal(t, limit, uses(tok))
	})

	// One task serves a busy stretch and stops getting requests, holding the rest of
	// its lease; the other then gets more requests than are left: it uses up the
	// table's rest, waits for the first task's unused uses (given back once idle) and
	// serves them too: exactly the limit is served.
	t.Run("OneTaskHoldsALease", func(t *testing.T) {
		tok := procs[0].token(t)
		const firstN = limit - 60
		first := hammer(urlsOf(procs[0]), tok, firstN, 16)
		held := uses(tok) - firstN
		require.Positive(t, held, "the first task holds leased uses it has not served")
		second := hammer(urlsOf(procs[1]), tok, 110, 32)
		t.Logf("first task: %s, holding %d; second task: %s", first, held, second)
		assert.EqualValues(t, firstN, first.ok.Load())
		assert.EqualValues(t, limit, first.ok.Load()+second.ok.Load(), "exactly the limit across the tasks")
		assert.Equal(t, limit, uses(tok))
	})

	// SIGKILL of one task mid-lease: the other serves the rest, less at most what the
	// dead task held; its refusals wait for the dead task's lease a bounded time.
	t.Run("SIGKILLOfOneTask", func(t *testing.T) {
		tok := procs[0].token(t)
		first := hammer(urlsOf(procs[0]), tok, 150, 16)
		procs[0].kill(t)
		start := time.Now()
		second := hammer(urlsOf(procs[1]), tok, limit, 32)
		took := time.Since(start)
		forfeited := limit - int(first.ok.Load()+second.ok.Load())
		t.Logf("killed task: %s; other task: %s in %v; forfeited %d", first, second, took, forfeited)
		assert.EqualValues(t, 150, first.ok.Load())
		assert.GreaterOrEqual(t, forfeited, 0, "over-use")
		assert.LessOrEqual(t, forfeited, maxLeaseLost)
		assert.Equal(t, limit, uses(tok), "every use is counted in the table")
		assert.Less(t, took, 30*time.Second)
		st := procs[1].stop(t)
		t.Logf("surviving task's leases: %+v", st)
		assert.Zero(t, st.Forfeited)
	})
}
