//go:build race

package echoproxy

// The race detector's shadow memory makes resident-memory figures meaningless.
const raceEnabled = true
