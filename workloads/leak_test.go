package workloads_test

// Leak tests: every workload on every backend, on success and on failure, must leave the process as it
// found it: no descriptor (data set file, directory lock, ring, socket), goroutine, child process, data set
// directory, listener, mapping or io_uring thread left behind (see internal/leakcheck).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	_ "github.com/ringbench/ringbench/backends/all"
	"github.com/ringbench/ringbench/internal/leakcheck"
	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/testsupport"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
	_ "github.com/ringbench/ringbench/workloads/echoproxy"
	_ "github.com/ringbench/ringbench/workloads/manyfile"
	_ "github.com/ringbench/ringbench/workloads/smallfile"
)

func TestMain(m *testing.M) {
	// echo-proxy's load generator is this test binary started again with loadgen.ChildEnv.
	loadgen.RunChildIfRequested()
	// A private TMPDIR: data sets go to os.TempDir() (the default --dir), and the leak check then sees this
	// binary's leftovers only, not those of test binaries running beside it.
	_, restore, err := leakcheck.PrivateTempDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "leak tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	restore()
	os.Exit(code)
}

const (
	sampleDuration = 100 * time.Millisecond
	warmupDuration = 30 * time.Millisecond
)

var fileWorkloads = []string{"small-file", "many-file"}

// runnable returns the registered backends that can run here (all four on a recent kernel).
func runnable(t *testing.T) []backend.Backend {
	t.Helper()
	var out []backend.Backend
	for _, b := range backend.All() {
		if err := b.Available(); err != nil {
			t.Logf("%s cannot run here, not tested: %v", b.Name(), err)
			continue
		}
		out = append(out, b)
	}
	if len(out) < 2 {
		t.Fatalf("want at least epoll and gostd, got %d backends", len(out))
	}
	return out
}

// meter measures the tests' samples as `run` does by default, opening counters per sample.
var meter = measure.New(measure.Options{CountSyscalls: true})

func lookup(t *testing.T, name string) workloads.Workload {
	t.Helper()
	return testsupport.Lookup(t, workloads.Lookup, name)
}

// fileConfig is a tiny data set: --files 50 --file-size 64k --block-size 4k --depth 8 --batch 4, in
// os.TempDir() (the private one, watched by the leak check).
func fileConfig() workloads.Config {
	return workloads.Config{
		Dir: os.TempDir(), Seed: 7, Files: 50, FileSize: 64 << 10, BlockSize: 4096,
		Options: backend.Options{Depth: 8, Batch: 4, SQCPU: -1, SQIdle: 10 * time.Millisecond, CQSpin: 5 * time.Microsecond},
	}
}

// snapshot is leakcheck.Snapshot watching os.TempDir() and, when given, another --dir.
func snapshot(t *testing.T, dirs ...string) *leakcheck.State {
	t.Helper()
	return leakcheck.Snapshot(t, leakcheck.Dirs(dirs...))
}

// epollBackend is the backend every kernel runs, for tests about the workloads rather than the engines.
func epollBackend(t *testing.T) backend.Backend {
	t.Helper()
	return testsupport.Lookup(t, backend.Lookup, "epoll")
}

// checkedPrepare prepares workload wname with cfg (a failed Prepare fails the test), runs body on what
// it prepared, closes it, and checks that nothing is left that was not there before: in os.TempDir() and
// dirs too.
func checkedPrepare(t *testing.T, wname string, cfg workloads.Config, body func(p workloads.Prepared), dirs ...string) {
	t.Helper()
	before := snapshot(t, dirs...)
	p, err := lookup(t, wname).Prepare(context.Background(), cfg)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	body(p)
	if err := p.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	leakcheck.Check(t, before)
}

// sampleAll takes a warm-up and a measured sample on b and wants the measured one to have done something.
func sampleAll(ctx context.Context, t *testing.T, p workloads.Prepared, b backend.Backend) {
	t.Helper()
	if _, err := sampleSome(ctx, t, p, workloads.SampleSpec{Meter: meter, Backend: b, Duration: warmupDuration, Warmup: true}); err != nil {
		t.Errorf("%s warm-up: %v", b.Name(), err)
		return
	}
	s, err := sampleSome(ctx, t, p, workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration, Repeat: 1})
	if err != nil {
		t.Errorf("%s sample: %v", b.Name(), err)
		return
	}
	if s.Ops == 0 {
		t.Errorf("%s sample: no operations", b.Name())
	}
}

// sampleSome takes a sample, and again twice as long (three more times at most) when the echo-proxy workload
// refused it for completing no request: what gets done in 30 ms depends on what else the machine runs (an
// SQPOLL thread sharing two busy CPUs may finish nothing), and the leak checks do not depend on it.
func sampleSome(ctx context.Context, t *testing.T, p workloads.Prepared, spec workloads.SampleSpec) (result.Sample, error) {
	t.Helper()
	for try := 1; ; try++ {
		s, err := p.Sample(ctx, spec)
		if err == nil || try == 4 || !strings.Contains(err.Error(), "no request completed") {
			return s, err
		}
		t.Logf("%v (a busy machine?): again for %v", err, 2*spec.Duration)
		spec.Duration *= 2
	}
}

// TestFileWorkloadsLeakNothing: Prepare -> warm-up -> Sample -> Close of each file workload on each
// backend, plain and with --verify --fixed-files --fixed-bufs --pattern seq, leaves nothing behind.
func TestFileWorkloadsLeakNothing(t *testing.T) {
	bs := runnable(t)
	for _, wname := range fileWorkloads {
		for _, b := range bs {
			for _, variant := range []string{"plain", "verify-fixed-seq"} {
				t.Run(wname+"/"+b.Name()+"/"+variant, func(t *testing.T) {
					cfg := fileConfig()
					if variant != "plain" {
						cfg.Verify, cfg.Options.FixedFiles, cfg.Options.FixedBufs, cfg.Pattern = true, true, true, "seq"
					}
					checkedPrepare(t, wname, cfg, func(p workloads.Prepared) { sampleAll(context.Background(), t, p, b) })
				})
			}
		}
	}
}

// TestSharedPrepareLeaksNothing is `run`'s shape: one Prepare, samples interleaved across every backend,
// one Close.
func TestSharedPrepareLeaksNothing(t *testing.T) {
	bs := runnable(t)
	for _, wname := range fileWorkloads {
		t.Run(wname, func(t *testing.T) {
			checkedPrepare(t, wname, fileConfig(), func(p workloads.Prepared) {
				for r := 0; r < 2; r++ { // a warm-up round, then a measured one
					for _, b := range bs {
						spec := workloads.SampleSpec{Meter: meter, Backend: b, Duration: 50 * time.Millisecond, Repeat: r, Warmup: r == 0}
						if _, err := p.Sample(context.Background(), spec); err != nil {
							t.Errorf("%s sample %d: %v", b.Name(), r, err)
						}
					}
				}
			})
		})
	}
}

// TestMlockLeaksNothing: --mlock maps and locks every file; Close must unmap them all.
func TestMlockLeaksNothing(t *testing.T) {
	b := epollBackend(t)
	for _, wname := range fileWorkloads {
		t.Run(wname, func(t *testing.T) {
			cfg := fileConfig()
			cfg.Mlock = true
			before := snapshot(t)
			p, err := lookup(t, wname).Prepare(context.Background(), cfg)
			if err != nil {
				t.Skipf("--mlock not possible here: %v", err)
			}
			sampleAll(context.Background(), t, p, b)
			if err := p.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			leakcheck.Check(t, before)
		})
	}
}

// TestKeptDataSetLeaksNothing: with --keep the data set stays on disk, but Close must still release
// everything this process holds of it (its descriptors and directory lock). The set is then removable by
// another process (RemoveDir refuses a set someone has open).
func TestKeptDataSetLeaksNothing(t *testing.T) {
	b := epollBackend(t)
	for _, wname := range fileWorkloads {
		t.Run(wname, func(t *testing.T) {
			dir := t.TempDir()
			cfg := fileConfig()
			cfg.Dir, cfg.Keep = dir, true
			// dir is not watched: the kept set is meant to stay there. Round 0 creates it, round 1 reuses it.
			before := snapshot(t)
			for round := 0; round < 2; round++ {
				p, err := lookup(t, wname).Prepare(context.Background(), cfg)
				if err != nil {
					t.Fatalf("prepare (round %d): %v", round, err)
				}
				sampleAll(context.Background(), t, p, b)
				if err := p.Close(); err != nil {
					t.Errorf("close (round %d): %v", round, err)
				}
			}
			leakcheck.Check(t, before)
			removeKept(t, wname, cfg)
		})
	}
}

// removeKept removes the data set a --keep run left, and wants it there.
func removeKept(t *testing.T, wname string, cfg workloads.Config) {
	t.Helper()
	path := keptDir(t, cfg.Dir, wname)
	if err := dataset.RemoveDir(path); err != nil {
		t.Errorf("removing the kept data set: %v", err)
	}
}

// keptDir finds the one data set directory of workload wname in dir.
func keptDir(t *testing.T, dir, wname string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "ringbench-"+wname+"-*"))
	if err != nil || len(m) != 1 {
		t.Fatalf("want one kept %s data set in %s, found %v (%v)", wname, dir, m, err)
	}
	return m[0]
}

// TestPrepareFailuresLeakNothing: a Prepare that fails (bad --dir, bad flags) leaves nothing behind.
func TestPrepareFailuresLeakNothing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(*workloads.Config)
		want string
	}{
		{"nonexistent-dir", func(c *workloads.Config) { c.Dir = missing }, "--dir"},
		{"dir-is-a-file", func(c *workloads.Config) { c.Dir = notDir }, "--dir"},
		{"bad-pattern", func(c *workloads.Config) { c.Pattern = "zigzag" }, "--pattern"},
		{"direct-with-mlock", func(c *workloads.Config) { c.Direct, c.Mlock = true, true }, "--direct"},
	}
	for _, wname := range fileWorkloads {
		for _, tc := range cases {
			t.Run(wname+"/"+tc.name, func(t *testing.T) {
				cfg := fileConfig()
				tc.edit(&cfg)
				before := snapshot(t)
				p, err := lookup(t, wname).Prepare(context.Background(), cfg)
				if err == nil {
					p.Close()
					t.Fatalf("prepare succeeded, want an error naming %s", tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q does not name %s", err, tc.want)
				}
				leakcheck.Check(t, before)
			})
		}
	}
	// small-file alone: a block larger than the file.
	t.Run("small-file/block-larger-than-file", func(t *testing.T) {
		cfg := fileConfig()
		cfg.BlockSize = 128 << 10
		before := snapshot(t)
		if p, err := lookup(t, "small-file").Prepare(context.Background(), cfg); err == nil {
			p.Close()
			t.Fatal("prepare succeeded")
		}
		leakcheck.Check(t, before)
	})
}

// TestDirectLeaksNothing: small-file --direct either runs (a file system with O_DIRECT) or fails in
// Prepare after making the data set and opening some files (tmpfs): both leave nothing.
func TestDirectLeaksNothing(t *testing.T) {
	b, err := backend.Lookup("uring")
	if err != nil || b.Available() != nil {
		b, _ = backend.Lookup("epoll")
	}
	cfg := fileConfig()
	cfg.Direct = true
	before := snapshot(t)
	p, err := lookup(t, "small-file").Prepare(context.Background(), cfg)
	if err != nil {
		t.Logf("--direct refused here: %v", err)
	} else {
		if _, err := p.Sample(context.Background(), workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration}); err != nil {
			t.Logf("--direct sample failed: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	leakcheck.Check(t, before)
}

// TestPrepareCancelledLeaksNothing: a context cancelled while the data set is being written leaves no
// partial data set directory, descriptor or writer goroutine.
func TestPrepareCancelledLeaksNothing(t *testing.T) {
	for _, wname := range fileWorkloads {
		t.Run(wname, func(t *testing.T) {
			cfg := fileConfig()
			cfg.Files, cfg.FileSize, cfg.BlockSize = 30000, 4096, 4096
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg.Progress = func(string) { cancel() } // at the first progress report, 100 ms into creation
			before := snapshot(t)
			p, err := lookup(t, wname).Prepare(ctx, cfg)
			if err == nil {
				p.Close()
				t.Skip("the data set was made before the first progress report: nothing was cancelled")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("prepare: %v, want context.Canceled", err)
			}
			leakcheck.Check(t, before)
		})
	}
}

// TestSampleFailuresLeakNothing covers samples that fail on every backend: an engine that cannot be set up
// (--batch larger than --depth reaches the engine, which refuses it; sqpoll pinned to a CPU that does not
// exist), a --verify failure on a corrupted kept data set, and a context cancelled mid-sample.
func TestSampleFailuresLeakNothing(t *testing.T) {
	bs := runnable(t)
	for _, wname := range fileWorkloads {
		t.Run(wname+"/engine-setup-fails", func(t *testing.T) {
			cfg := fileConfig()
			cfg.Options.Batch = cfg.Options.Depth + 1 // run refuses it; the engines must too
			checkedPrepare(t, wname, cfg, func(p workloads.Prepared) {
				for _, b := range bs {
					if _, err := p.Sample(context.Background(), workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration}); err == nil {
						t.Errorf("%s: a sample with --batch > --depth succeeded", b.Name())
					}
				}
			})
		})
	}

	if b, err := backend.Lookup("sqpoll"); err == nil && b.Available() == nil {
		for _, wname := range fileWorkloads {
			t.Run(wname+"/sqpoll-bad-cpu", func(t *testing.T) {
				cfg := fileConfig()
				cfg.Options.SQCPU = 4095
				checkedPrepare(t, wname, cfg, func(p workloads.Prepared) { badCPUSample(t, p, b) })
			})
		}
	}

	for _, wname := range fileWorkloads {
		t.Run(wname+"/verify-fails", func(t *testing.T) {
			dir := t.TempDir()
			cfg := fileConfig()
			cfg.Dir, cfg.Keep, cfg.Verify = dir, true, true
			// Make the set and keep it, then corrupt one file in place (same size: the set is still reused).
			p, err := lookup(t, wname).Prepare(context.Background(), cfg)
			if err != nil {
				t.Fatalf("prepare: %v", err)
			}
			if err := p.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			set := keptDir(t, dir, wname)
			defer func() {
				// Zeroed files no longer prove to be ringbench's: RemoveDir leaves them, so the test removes them.
				if err := dataset.RemoveDir(set); err == nil || !strings.Contains(err.Error(), "not the data set's") {
					t.Errorf("RemoveDir of a set whose files were all overwritten = %v, want them left", err)
				}
				if err := os.RemoveAll(set); err != nil {
					t.Error(err)
				}
			}()
			corrupt(t, set)
			for _, b := range bs {
				t.Run(b.Name(), func(t *testing.T) {
					checkedPrepare(t, wname, cfg, func(p workloads.Prepared) {
						_, err := p.Sample(context.Background(), workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration})
						if err == nil || !strings.Contains(err.Error(), "verify") {
							t.Errorf("sample over a corrupted data set: %v, want a verify error", err)
						}
					}, dir)
				})
			}
		})
	}

	for _, wname := range fileWorkloads {
		t.Run(wname+"/cancelled-mid-sample", func(t *testing.T) {
			checkedPrepare(t, wname, fileConfig(), func(p workloads.Prepared) {
				cancelledSamples(t, p, bs, 50*time.Millisecond, 5*time.Second)
			})
		})
	}
}

// cancelledSamples takes a 20 s sample on each of bs, cancelled after cancelAfter, and wants each back
// within bound.
func cancelledSamples(t *testing.T, p workloads.Prepared, bs []backend.Backend, cancelAfter, bound time.Duration) {
	t.Helper()
	for _, b := range bs {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(cancelAfter, cancel)
		start := time.Now()
		_, err := p.Sample(ctx, workloads.SampleSpec{Meter: meter, Backend: b, Duration: 20 * time.Second})
		timer.Stop()
		cancel()
		if took := time.Since(start); took > bound {
			t.Errorf("%s: a sample cancelled after %v took %v", b.Name(), cancelAfter, took)
		}
		t.Logf("%s cancelled: %v", b.Name(), err)
	}
}

// badCPUSample wants a sample on b, the sqpoll backend pinned to a CPU that does not exist, to fail.
func badCPUSample(t *testing.T, p workloads.Prepared, b backend.Backend) {
	t.Helper()
	if _, err := p.Sample(context.Background(), workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration}); err == nil {
		t.Error("a sample with sqpoll pinned to CPU 4095 succeeded")
	} else {
		t.Logf("sqpoll on CPU 4095: %v", err)
	}
}

// corrupt overwrites every file of the data set in dir with zeros, keeping their sizes (so the set is still
// reused): the first block any sample reads fails --verify.
func corrupt(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "d*", "f*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("files of %s: %v %v", dir, files, err)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, make([]byte, fi.Size()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// echoConfig is a small echo-proxy load: 4 connections of 64-byte messages, two in flight each.
func echoConfig(topology string) workloads.Config {
	return workloads.Config{
		Topology: topology, Conns: 4, MsgSize: 64, Pipeline: 2, Verify: true, Timeout: 5 * time.Second,
		Options: backend.Options{Depth: 8, Batch: 4, SQCPU: -1, SQIdle: 10 * time.Millisecond, CQSpin: 5 * time.Microsecond},
	}
}

// TestEchoProxyLeaksNothing: echo and proxy topologies on every server backend (uring also multishot):
// the load-generator child, the server's listener, connections, ring and thread are all gone after Close.
func TestEchoProxyLeaksNothing(t *testing.T) {
	bs := runnable(t) // every backend serves sockets
	for _, topo := range []string{"echo", "proxy"} {
		for _, b := range bs {
			multishots := []bool{false}
			if b.Name() == "uring" {
				multishots = append(multishots, true)
			}
			for _, ms := range multishots {
				name := topo + "/" + b.Name()
				if ms {
					name += "-multishot"
				}
				t.Run(name, func(t *testing.T) {
					cfg := echoConfig(topo)
					cfg.Multishot = ms
					checkedPrepare(t, "echo-proxy", cfg, func(p workloads.Prepared) { sampleAll(context.Background(), t, p, b) })
				})
			}
		}
	}
}

// TestEchoProxyFailuresLeakNothing: bad settings, a server that cannot start (sqpoll pinned to a CPU that
// does not exist, after its listener was made) and a sample cancelled half-way leave nothing behind.
func TestEchoProxyFailuresLeakNothing(t *testing.T) {
	bs := runnable(t) // every backend serves sockets
	t.Run("bad-topology", func(t *testing.T) {
		cfg := echoConfig("mesh")
		before := snapshot(t)
		if p, err := lookup(t, "echo-proxy").Prepare(context.Background(), cfg); err == nil {
			p.Close()
			t.Fatal("prepare with --topology mesh succeeded")
		}
		leakcheck.Check(t, before)
	})
	if b, err := backend.Lookup("sqpoll"); err == nil && b.Available() == nil {
		t.Run("sqpoll-bad-cpu", func(t *testing.T) {
			cfg := echoConfig("echo")
			cfg.Options.SQCPU = 4095
			checkedPrepare(t, "echo-proxy", cfg, func(p workloads.Prepared) { badCPUSample(t, p, b) })
		})
	}
	t.Run("cancelled-mid-sample", func(t *testing.T) {
		checkedPrepare(t, "echo-proxy", echoConfig("proxy"), func(p workloads.Prepared) {
			cancelledSamples(t, p, bs, 300*time.Millisecond, 10*time.Second)
		})
	})
}

// TestMeasuredSampleWithoutMeterFails: a measured sample needs a Meter (warm-ups do not), and refusing one
// leaves nothing behind.
func TestMeasuredSampleWithoutMeterFails(t *testing.T) {
	b := epollBackend(t)
	for _, wname := range fileWorkloads {
		t.Run(wname, func(t *testing.T) {
			checkedPrepare(t, wname, fileConfig(), func(p workloads.Prepared) {
				if _, err := p.Sample(context.Background(), workloads.SampleSpec{Backend: b, Duration: warmupDuration, Warmup: true}); err != nil {
					t.Errorf("warm-up without a meter: %v", err)
				}
				if _, err := p.Sample(context.Background(), workloads.SampleSpec{Backend: b, Duration: sampleDuration}); !errors.Is(err, workloads.ErrNoMeter) {
					t.Errorf("measured sample without a meter: got %v, want ErrNoMeter", err)
				}
			})
		})
	}
}
