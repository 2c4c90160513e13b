package docgen

// Rewrites the reference section of every construct README under constructs/.
//go:generate go run ./cmd/docgen ../..
