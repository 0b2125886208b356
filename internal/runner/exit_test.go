package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

// brokenBackend is a real backend whose file engines fail to set up with err, as a ring setup that the
// kernel refuses would.
type brokenBackend struct {
	backend.Backend
	name string
	err  error
}

func (b brokenBackend) Name() string { return b.name }

func (b brokenBackend) NewFileEngine(backend.FileConfig) (backend.FileEngine, error) {
	return nil, b.err
}

// planWith is request's plan (epoll and gostd by name, or as "all") with gostd replaced by broken ones.
func planWith(t *testing.T, named bool, broken ...brokenBackend) *Plan {
	t.Helper()
	r := request(t)
	if !named {
		r.Backends = []string{"all"}
	}
	p := mustPlan(t, r)
	epoll := testsupport.Lookup(t, backend.Lookup, "epoll")
	p.Backends = []backend.Backend{epoll}
	for _, b := range broken {
		p.Backends = append(p.Backends, b)
	}
	return p
}

var (
	errSetupEINVAL  = fmt.Errorf("io_uring setup failed: %w", unix.EINVAL)
	errNotSupported = fmt.Errorf("%w: not enough lockable memory (%w)", backend.ErrNotSupported, unix.ENOMEM)
	brokenEINVAL    = func(name string) brokenBackend { return brokenBackend{name: name, err: errSetupEINVAL} }
	brokenLimited   = func(name string) brokenBackend { return brokenBackend{name: name, err: errNotSupported} }
)

// TestRunExitClasses: a backend whose engine fails to set up for any reason but lack of support is a
// failure (not ErrUnavailable, never skipped), named or not; one that is not supported here is skipped
// under "all" and, named, fails the run with ErrUnavailable, unless a real failure happened too.
func TestRunExitClasses(t *testing.T) {
	cases := []struct {
		name         string
		named        bool
		broken       []brokenBackend
		fails, unavl bool
		skipped      int
	}{
		{"named, setup EINVAL", true, []brokenBackend{brokenEINVAL("b1")}, true, false, 0},
		{"all, setup EINVAL", false, []brokenBackend{brokenEINVAL("b1")}, true, false, 0},
		{"named, not supported", true, []brokenBackend{brokenLimited("b1")}, true, true, 1},
		{"all, not supported", false, []brokenBackend{brokenLimited("b1")}, false, false, 1},
		{"named, both", true, []brokenBackend{brokenLimited("b1"), brokenEINVAL("b2")}, true, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := planWith(t, c.named, c.broken...)
			f, err := Run(context.Background(), p, Meta{}, nil)
			if (err != nil) != c.fails || errors.Is(err, ErrUnavailable) != c.unavl {
				t.Fatalf("err %v (unavailable %v), want failure %v, unavailable %v", err, errors.Is(err, ErrUnavailable), c.fails, c.unavl)
			}
			if c.fails && !strings.Contains(err.Error(), "b1") {
				t.Errorf("error %q does not name the backend", err)
			}
			if len(f.Skipped) != c.skipped {
				t.Errorf("skipped %v, want %d", f.Skipped, c.skipped)
			}
			for _, s := range f.Samples {
				if s.Backend != "epoll" {
					t.Errorf("a sample of %s", s.Backend)
				}
			}
			perRound := 0 // a timed sample, and a counted one when syscalls are counted
			if p.Timed {
				perRound++
			}
			if p.CountSyscalls {
				perRound++
			}
			if len(f.Samples) != perRound*p.Count {
				t.Errorf("%d samples, want epoll's %d", len(f.Samples), perRound*p.Count)
			}
		})
	}
}
