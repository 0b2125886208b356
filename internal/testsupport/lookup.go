package testsupport

import "testing"

// Lookup is lookup(name) (backend.Lookup, workloads.Lookup), which must succeed.
func Lookup[T any](tb testing.TB, lookup func(string) (T, error), name string) T {
	tb.Helper()
	v, err := lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
