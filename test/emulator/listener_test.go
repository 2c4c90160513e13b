package emulator

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// A caller that binds the socket knows the endpoint before moto has started (app/localenv
// synthesizes the stack meanwhile); a request made before moto serves waits, then gets
// its answer.
func TestLaunchServesOnTheListenerGiven(t *testing.T) {
	t.Parallel()
	endpoint, socket, err := ListenSocket()
	require.NoError(t, err)

	early := make(chan error, 1)
	go func() {
		client := &http.Client{Timeout: ReadyTimeout}
		resp, err := client.Get(endpoint + "/moto-api/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		early <- err
	}()

	e := Start(t, Options{Listener: socket})
	require.NoError(t, socket.Close(), "the caller's copy can go once Launch returns")
	require.Equal(t, endpoint, e.Endpoint(), "moto serves on the socket it was given")

	select {
	case err := <-early:
		require.NoError(t, err, "the request made before moto served is answered")
	case <-time.After(30 * time.Second):
		t.Fatal("the request made before moto served was never answered")
	}
	s3c, err := e.S3Client(context.Background())
	require.NoError(t, err)
	_, err = s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("on-the-given-socket")})
	require.NoError(t, err)
}
