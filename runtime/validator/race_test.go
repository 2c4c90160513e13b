//go:build race

package validator

// The race detector slows the engine several times over: hostile scripts need longer
// to reach their memory quotas.
const raceEnabled = true
