package emulator

import (
	"context"
	"net/http"
	"net/url"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
)

// S3ControlClient returns an S3 Control client for the emulator. S3 Control prefixes the
// account id to the endpoint's host (123456789012.127.0.0.1:PORT), which no resolver
// knows, so the client sends its requests through the emulator as an HTTP proxy, which
// serves such absolute-form requests as its own - what stacks.NewBase tells the AWS
// provider to do too.
func (e *Emulator) S3ControlClient(ctx context.Context) (*s3control.Client, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	proxy, err := url.Parse(e.endpoint)
	if err != nil {
		return nil, err
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.Proxy = http.ProxyURL(proxy)
	})
	return s3control.NewFromConfig(cfg), nil
}
