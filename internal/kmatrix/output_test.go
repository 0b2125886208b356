package kmatrix

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

func processLog(t *testing.T, path string, opts Options) (*Boot, error) {
	t.Helper()
	c := parseString(t, path, readLog(t, path))
	if opts.OutDir == "" {
		opts.OutDir = t.TempDir()
	}
	return Process(c, opts)
}

// The feature matrix of the real boots must come out as the kernels are: 6.1 has no io_uring_disabled
// sysctl (it came in 6.6), features 0x1fff and last opcode 48 (SENDMSG_ZC); 6.12 has the sysctl at 0,
// features 0xffff and last opcode 57 (LISTEN). Both allow SQPOLL (root), DEFER_TASKRUN (6.1+), buffer
// rings (5.19+) and multishot recv (6.0+).
func TestProcessRealBoots(t *testing.T) {
	for _, tc := range []struct {
		path, label, release, disabled string
		features                       uint32
		last                           int
		noSQArray                      bool
	}{
		{log61, "6.1-tcg", "6.1.0-56-cloud-amd64", "absent", 0x1fff, 48, false},
		{log612, "6.12-tcg", "6.12.117+deb12-cloud-amd64", "0", 0xffff, 57, true},
	} {
		t.Run(tc.label, func(t *testing.T) {
			dir := t.TempDir()
			b, err := processLog(t, tc.path, Options{OutDir: dir, Accel: "tcg", Package: "linux-image-" + tc.release})
			if err != nil {
				t.Fatalf("Process: %v", err)
			}
			r := b.Row
			if b.Label != tc.label || r.Release != tc.release || r.IOUringDisabled != tc.disabled {
				t.Fatalf("label %q release %q io_uring_disabled %q", b.Label, r.Release, r.IOUringDisabled)
			}
			if r.Setup != "ok" || r.Features != tc.features || r.LastOpcode != tc.last || len(r.Opcodes) != tc.last+1 {
				t.Fatalf("setup %q features %#x last opcode %d (%d opcodes)", r.Setup, r.Features, r.LastOpcode, len(r.Opcodes))
			}
			if r.SQPoll != "yes" || r.DeferTaskrun != "yes" || r.BufRing != "yes" || r.MultishotRecv != "yes" || r.MultishotAccept != "yes" {
				t.Fatalf("capabilities %+v", r)
			}
			if hasName(r.SetupFlags, "NO_SQARRAY") != tc.noSQArray {
				t.Fatalf("setup flags %v: NO_SQARRAY (6.6+) should be %v", r.SetupFlags, tc.noSQArray)
			}
			if r.Run != "ran epoll,sqpoll,uring" {
				t.Fatalf("run %q", r.Run)
			}
			if !b.Emulated || b.Accelerator != "tcg" || len(b.Problems) != 0 {
				t.Fatalf("boot %+v", b)
			}

			// The result file: stamped, labelled, warned, loadable by the result package.
			f, err := result.Load(filepath.Join(dir, tc.label+".result.json"))
			if err != nil {
				t.Fatal(err)
			}
			if f.Env.Virt.Accelerator != "tcg" || !f.Env.Virt.Emulated || f.Label != tc.label {
				t.Fatalf("result virt %+v label %q", f.Env.Virt, f.Label)
			}
			if !contains(f.Warnings, EmulatedWarning) || len(f.Samples) != 3 {
				t.Fatalf("result warnings %q, %d samples", f.Warnings, len(f.Samples))
			}
			for _, s := range f.Samples {
				if !contains(s.Warnings, EmulatedWarning) {
					t.Fatalf("sample %s lacks the emulation warning: %q", s.Backend, s.Warnings)
				}
			}

			// The probe file: stamped where it holds a fingerprint and a virt member; nothing lost.
			var probe map[string]any
			readJSON(t, filepath.Join(dir, tc.label+".probe.json"), &probe)
			fp := probe["fingerprint"].(map[string]any)
			for _, virt := range []any{fp["virt"], probe["virt"]} {
				v := virt.(map[string]any)
				if v["accelerator"] != "tcg" || v["emulated"] != true {
					t.Fatalf("probe virt %v", v)
				}
			}
			if km := probe["kernel_matrix"].(map[string]any); km["warning"] != EmulatedWarning {
				t.Fatalf("probe kernel_matrix %v", km)
			}
			if _, ok := probe["backends"]; !ok {
				t.Fatal("unknown probe members must be kept")
			}

			// The summary and the plain blocks; no temporary files left behind.
			var back Boot
			readJSON(t, filepath.Join(dir, tc.label+".boot.json"), &back)
			if back.Schema != BootSchema || back.Row.Features != tc.features || back.Files[BlockRun] != tc.label+".result.json" {
				t.Fatalf("boot summary %+v", back)
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			want := []string{".boot.json", ".caps.json", ".meta.txt", ".probe-stderr.txt", ".probe.json", ".result.json", ".run-log.txt"}
			if len(names) != len(want) {
				t.Fatalf("files %v", names)
			}
			for i, n := range names {
				if n != tc.label+want[i] {
					t.Fatalf("files %v, want %v with label %s", names, want, tc.label)
				}
			}
		})
	}
}

func TestProcessKVMIsNotEmulated(t *testing.T) {
	// The real log says rb_accel=tcg on its command line: as a KVM boot it must be refused ...
	if _, err := processLog(t, log61, Options{Accel: "kvm"}); err == nil || !strings.Contains(err.Error(), `host says accelerator "kvm"`) {
		t.Fatalf("accelerator mismatch: %v", err)
	}
	// ... and a KVM boot files results that are neither marked emulated nor warned about.
	b, f, virt := processAsKVM(t, func(data string) string { // as a guest under KVM would have found itself
		return strings.NewReplacer(`"accelerator": "tcg"`, `"accelerator": "kvm"`, `"emulated": true`, `"emulated": false`,
			"QEMU TCG CPU", "AMD EPYC").Replace(data)
	})
	if b.Emulated || b.Label != "6.1-kvm" || contains(b.Warnings, EmulatedWarning) {
		t.Fatalf("kvm boot %+v", b)
	}
	if f.Env.Virt.Accelerator != "kvm" || f.Env.Virt.Emulated || contains(f.Warnings, EmulatedWarning) {
		t.Fatalf("kvm result virt %+v warnings %q", f.Env.Virt, f.Warnings)
	}
	if virt["accelerator"] != "kvm" || virt["emulated"] == true {
		t.Fatalf("kvm probe virt %v", virt)
	}
}

// processAsKVM processes log61 as the boot of a qemu that ran with KVM, its probe and run blocks' data
// through guest (nil: as they are), and returns the boot, its result file and its probe's virt section.
func processAsKVM(t *testing.T, guest func(data string) string) (*Boot, *result.File, map[string]any) {
	t.Helper()
	real := parseString(t, log61, readLog(t, log61))
	var log strings.Builder
	for _, blk := range real.Blocks {
		data := blk.Data
		switch {
		case blk.Name == BlockMeta:
			data = []byte(strings.ReplaceAll(string(data), "tcg", "kvm"))
		case (blk.Name == BlockProbe || blk.Name == BlockRun) && guest != nil:
			data = []byte(guest(string(data)))
		}
		log.WriteString(block(blk.Name, blk.Exit, data))
	}
	log.WriteString("===RINGBENCH-DONE blocks=6===\n")
	dir := t.TempDir()
	b, err := Process(parseString(t, "kvm.log", log.String()), Options{OutDir: dir, Accel: "kvm"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := result.Load(filepath.Join(dir, "6.1-kvm.result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var probe map[string]any
	readJSON(t, filepath.Join(dir, "6.1-kvm.probe.json"), &probe)
	return b, f, probe["fingerprint"].(map[string]any)["virt"].(map[string]any)
}

// When qemu ran with KVM but the guest found itself emulated, the files stay marked emulated.
func TestProcessGuestEmulatedWins(t *testing.T) {
	b, f, virt := processAsKVM(t, nil)
	if !f.Env.Virt.Emulated || !contains(f.Warnings, EmulatedWarning) {
		t.Fatalf("result virt %+v warnings %q", f.Env.Virt, f.Warnings)
	}
	if !b.Emulated || !contains(b.Warnings, EmulatedWarning) || !strings.Contains(strings.Join(b.Warnings, "\n"), "found itself emulated") {
		t.Fatalf("boot warnings %q", b.Warnings)
	}
	if virt["emulated"] != true {
		t.Fatalf("probe virt %v", virt)
	}
}

func TestProcessCrashKeepsWhatArrived(t *testing.T) {
	dir := t.TempDir()
	b, err := processLog(t, logOops, Options{OutDir: dir, Accel: "tcg"})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
	if b == nil || b.Label != "6.12-tcg" || b.Row.Setup != "ok" || b.Row.Features != 0xffff {
		t.Fatalf("boot %+v", b)
	}
	if len(b.Problems) == 0 || !strings.Contains(b.Problems[0], "Kernel panic") {
		t.Fatalf("problems %q", b.Problems)
	}
	if _, err := os.Stat(filepath.Join(dir, "6.12-tcg.result.json")); !os.IsNotExist(err) {
		t.Fatalf("no result was sent, none may be written: %v", err)
	}
	if b.Row.Run != "no result" {
		t.Fatalf("run %q", b.Row.Run)
	}
}

func TestProcessProbeVariants(t *testing.T) {
	meta := block(BlockMeta, 0, []byte("release=6.1.0-1-cloud-amd64\naccel=tcg\nio_uring_disabled=absent\n"))
	for _, tc := range []struct {
		name, probe, stderr  string
		exit                 int
		wantProbe, wantSetup string
		wantErr              string
	}{
		{name: "no probe command", exit: 127, stderr: "this ringbench has no probe command\n",
			wantProbe: "failed (exit 127): this ringbench has no probe command"},
		{name: "fingerprint at top level", probe: `{"kernel":{"release":"6.1.0-1-cloud-amd64"},"io_uring":{"disabled":"absent","setup_ok":true,"features":8191,"last_opcode":48,"setup_flags":["SQPOLL"],"sqpoll":true}}`,
			wantProbe: "ok", wantSetup: "ok"},
		{name: "setup refused", probe: `{"env":{"io_uring":{"disabled":"absent","setup_ok":false,"setup_errno":"EPERM"}}}`,
			wantProbe: "ok", wantSetup: "fails (EPERM)"},
		{name: "not JSON", probe: "Segmentation fault\n", exit: 139, wantProbe: "unreadable", wantErr: "probe output is not a JSON object"},
		{name: "no fingerprint", probe: `{"hello":1}`, wantProbe: "unreadable", wantErr: "holds no fingerprint"},
		{name: "kernel disagrees", probe: `{"kernel":{"release":"6.18.0"},"io_uring":{"setup_ok":true}}`,
			wantProbe: "ok", wantSetup: "ok", wantErr: `the probe reports kernel "6.18.0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := meta + block(BlockProbe, tc.exit, []byte(tc.probe))
			n := 2
			if tc.stderr != "" {
				log += block(BlockProbeStderr, tc.exit, []byte(tc.stderr))
				n++
			}
			log += block(BlockRunLog, 127, []byte("--no-run was given\n")) + "===RINGBENCH-DONE blocks=" + string(rune('0'+n+1)) + "===\n"
			c := parseString(t, "v.log", log)
			if err := c.Err(); err != nil {
				t.Fatal(err)
			}
			b, err := Process(c, Options{OutDir: t.TempDir()})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if b.Row.Probe != tc.wantProbe || b.Row.Setup != tc.wantSetup {
				t.Fatalf("probe %q setup %q", b.Row.Probe, b.Row.Setup)
			}
			if b.Accelerator != "tcg" || b.Label != "6.1-tcg" {
				t.Fatalf("accelerator from the guest's meta: %q, label %q", b.Accelerator, b.Label)
			}
			if b.Row.Run != "skipped: --no-run was given" {
				t.Fatalf("run %q", b.Row.Run)
			}
		})
	}
}

func TestProcessRefusesUnknownAccelerator(t *testing.T) {
	c := parseString(t, "x.log", block(BlockMeta, 0, []byte("release=6.1.0\n"))+"===RINGBENCH-DONE blocks=1===\n")
	if _, err := Process(c, Options{OutDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "accelerator") {
		t.Fatalf("err %v", err)
	}
}

func TestStampResultIsIdempotent(t *testing.T) {
	f := &result.File{Label: "mine", Samples: []result.Sample{{Backend: "uring", Workload: "small-file"}}}
	StampResult(f, "tcg", "6.1-tcg")
	StampResult(f, "tcg", "6.1-tcg")
	if f.Label != "mine" || len(f.Warnings) != 1 || len(f.Samples[0].Warnings) != 1 || !f.Env.Virt.Emulated {
		t.Fatalf("%+v", f)
	}
}

func TestSeriesOf(t *testing.T) {
	for in, want := range map[string]string{
		"6.1.0-56-cloud-amd64": "6.1", "6.12.117+deb12-cloud-amd64": "6.12", "linux": "", "": "",
	} {
		if got := SeriesOf(in); got != want {
			t.Errorf("SeriesOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// contains reports whether list holds s: a string, or a result.Warning with that text.
func contains[T any](list []T, s string) bool {
	for _, x := range list {
		if fmt.Sprint(x) == s {
			return true
		}
	}
	return false
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
