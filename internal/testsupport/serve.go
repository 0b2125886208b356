package testsupport

import "testing"

// Server is what Serve runs: an echo or proxy server of a backend, or the epoll server under them.
type Server interface {
	Serve() error
	Close() error
}

// Serve runs srv.Serve on a goroutine; at cleanup it closes srv and fails the test if Serve returned an
// error.
func Serve(tb testing.TB, srv Server) {
	tb.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	tb.Cleanup(func() {
		_ = srv.Close()
		if err := <-served; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
}
