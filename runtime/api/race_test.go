//go:build race

package api

// The race detector slows validator scripts several times over.
const raceEnabled = true
