package image_test

import (
	"context"
	"io"
	"testing"

	"github.com/acme/module-registry/runtime/image"
)

// BenchmarkBuild measures a warm build of the registry image (the Go build cache holds
// the compiled packages; linking and packing remain) and reports the image's size.
//
//	go test -run '^$' -bench Build -benchtime 3x ./runtime/image
func BenchmarkBuild(b *testing.B) {
	root, err := image.FindModuleRoot(".")
	if err != nil {
		b.Fatal(err)
	}
	var compressed, uncompressed int64
	for b.Loop() {
		img, err := image.Build(context.Background(), image.Options{ModuleDir: root})
		if err != nil {
			b.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil {
			b.Fatal(err)
		}
		compressed, uncompressed = 0, 0
		for _, l := range layers {
			size, err := l.Size()
			if err != nil {
				b.Fatal(err)
			}
			compressed += size
			rc, err := l.Uncompressed()
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				b.Fatal(err)
			}
			uncompressed += n
		}
	}
	b.ReportMetric(float64(compressed)/(1<<20), "MiB-compressed")
	b.ReportMetric(float64(uncompressed)/(1<<20), "MiB-uncompressed")
}
