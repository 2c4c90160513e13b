package emulator_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/acme/module-registry/test/emulator"
)

// Launch outside a test (for example from a command); always Stop it.
func ExampleLaunch() {
	ctx := context.Background()
	emu, err := emulator.Launch(ctx, emulator.Options{AccountID: "123456789012"})
	if err != nil {
		log.Fatal(err) // the error says what to install if python3/moto is missing
	}
	defer emu.Stop()

	s3c, err := emu.S3Client(ctx) // path-style, fake credentials
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pkg-artifacts")}); err != nil {
		log.Fatal(err)
	}
	// Terraform and SDK clients point at emu.Endpoint() (http://127.0.0.1:<free port>).
	out, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range out.Buckets {
		fmt.Println(aws.ToString(b.Name))
	}
	// Output: pkg-artifacts
}
