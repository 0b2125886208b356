//go:build !race

package echoproxy

const raceEnabled = false
