package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// TestRunSweepBatch: --batch 1,4 on uring and epoll is one run and one file of four series, each sample
// carrying its point's batch, every round interleaving the points and backends, the table telling the
// points apart with the swept param first.
func TestRunSweepBatch(t *testing.T) {
	requireURing(t)
	d := newRunDirs(t)
	out := filepath.Join(d.cwd, "sweep.json")
	r := d.run(t, 2*time.Minute, "run", "--backend", "uring,epoll", "--workload", "small-file", "--files", "1", "--file-size", "1M",
		"--dir", d.data, "--batch", "1,4", "--duration", "50ms", "--warmup", "0", "--count", "2", "--out", out)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "(2 points [small-file 2] × 2 backends × 2 rounds × 2 kinds)") {
		t.Errorf("estimate line does not count the points:\n%s", r.Stderr)
	}
	for _, b := range []string{"1", "4"} {
		if !strings.Contains(r.Stdout, "small-file  (batch="+b+"/bs=4096/depth=32/") {
			t.Errorf("table has no block for batch=%s:\n%s", b, r.Stdout)
		}
	}
	f := loadResult(t, out)
	want := []result.SweepAxis{{Flag: "batch", Param: "batch", Values: []string{"1", "4"}, Workloads: []string{"small-file"}}}
	if fmt.Sprint(f.Config.Sweep) != fmt.Sprint(want) {
		t.Errorf("config.sweep = %+v, want %+v", f.Config.Sweep, want)
	}
	var got []string
	series := map[string]int{}
	for _, s := range f.Samples {
		got = append(got, fmt.Sprintf("%d:%s:%s:%s", s.Repeat, s.Kind, s.Params["batch"], s.Backend))
		series[s.Backend+"/"+result.ParamsString(s.Params)]++
		if s.Params["depth"] != "32" {
			t.Errorf("sample %s: depth %q", got[len(got)-1], s.Params["depth"])
		}
	}
	var wantOrder []string
	for round := range 2 {
		for _, k := range []string{result.KindTimed, result.KindCounted} {
			for _, b := range []string{"1", "4"} {
				for _, be := range []string{"uring", "epoll"} {
					wantOrder = append(wantOrder, fmt.Sprintf("%d:%s:%s:%s", round, k, b, be))
				}
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("samples\n got %v\nwant %v", got, wantOrder)
	}
	if len(series) != 4 {
		t.Errorf("series %v, want 4", series)
	}
	if entries, _ := os.ReadDir(d.data); len(entries) != 0 {
		t.Errorf("--dir not cleaned: %d entries", len(entries))
	}
}

// TestRunSweepBadInput: a bad list is refused with exit 2 and one line naming it, before anything is
// created; a list on a flag that takes none keeps its message.
func TestRunSweepBadInput(t *testing.T) {
	long := []string{"--warmup", "0", "--count", "1", "--duration", "1m", "-q"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"not a number", []string{"--batch", "1,x,4"}, `--batch 1,x,4: "x" is not a number`},
		{"empty element", []string{"--depth", "32,,64"}, `--depth 32,,64: empty element`},
		{"duplicate", []string{"--jobs", "1,2,1"}, `--jobs 1,2,1: "1" given twice`},
		{"duplicate size", []string{"--workload", "echo-proxy", "--msg-size", "4k,4096"}, `--msg-size 4k,4096: "4096" given twice (as 4k)`},
		{"bad count", []string{"--workload", "echo-proxy", "--conns", "1,2q"}, `--conns 1,2q: "2q" is not a number`},
		{"zero", []string{"--batch", "0,4"}, `--batch 0,4: "0" must be at least 1`},
		{"too many points", []string{"--batch", "1,2,3,4,5,6,7,8,9,10,11,12", "--depth", "32,64,128,256,512,1024,2048,4096"},
			`--batch 1,2,3,4,5,6,7,8,9,10,11,12 × --depth 32,64,128,256,512,1024,2048,4096 (small-file, many-file: 96 points each): 192 points: more than 64, give --force to run them`},
		{"too many points of two workloads", []string{"--workload", "small-file,echo-proxy", "--conns", "64", "--jobs", counts(33), "--threads", counts(32)},
			`--jobs ` + counts(33) + ` (small-file); --threads ` + counts(32) + ` (echo-proxy): 65 points: more than 64, give --force to run them`},
		{"list no workload reads", []string{"--workload", "echo-proxy", "--jobs", "1,2"}, `--jobs 1,2: not read by echo-proxy (it is for small-file, many-file)`},
		{"list the default workloads do not read", []string{"--threads", "1,2"}, `--threads 1,2: not read by small-file, many-file (it is for echo-proxy)`},
		{"gen-threads not a number", []string{"--workload", "echo-proxy", "--gen-threads", "1,x"}, `--gen-threads 1,x: "x" is not a number (nor threads, alone)`},
		{"gen-threads threads in a list", []string{"--workload", "echo-proxy", "--gen-threads", "1,threads"}, `--gen-threads 1,threads: "threads" is not a number (nor threads, alone)`},
		{"gen-threads misspelt", []string{"--workload", "echo-proxy", "--gen-threads", "thread"}, `--gen-threads thread: "thread" is not a number (nor threads, alone)`},
		{"gen-threads zero", []string{"--workload", "echo-proxy", "--gen-threads", "2,0"}, `--gen-threads 2,0: "0" must be at least 1`},
		{"gen-threads threads past conns", []string{"--workload", "echo-proxy", "--conns", "4", "--threads", "2,8", "--gen-threads", "threads"},
			`--threads 8 (point threads=8): echo-proxy: --gen-threads 8: more threads than --conns 4`},
		{"bad point", []string{"--depth", "8,64", "--batch", "4,16"}, `--batch 16 (point depth=8,batch=16): --batch 16 is larger than --depth 8`},
		{"batch list over a given depth", []string{"--depth", "32", "--batch", "1,64"}, `--batch 64 (point batch=64): --batch 64 is larger than --depth 32`},
		{"not sweepable", []string{"--pipeline", "1,2"}, `--pipeline "1,2"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newRunDirs(t)
			r := d.run(t, 30*time.Second, args([]string{"run", "--dir", d.data}, long, c.args)...)
			assertUsageError(t, r, c.want)
			assertEmpty(t, d.cwd, "the working directory")
			assertEmpty(t, d.data, "--dir")
		})
	}
}

// counts is "1,2,...,n".
func counts(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(s, ",")
}
