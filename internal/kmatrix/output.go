package kmatrix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

// EmulatedWarning is stamped into every result measured under TCG.
const EmulatedWarning = "emulated (TCG): performance figures not comparable with native"

// Block names the guest's init sends (scripts/kernel-matrix.sh).
const (
	BlockMeta        = "meta"         // key=value lines read from the guest's /proc and uname
	BlockProbe       = "probe"        // stdout of `ringbench probe --json`
	BlockProbeStderr = "probe-stderr" // its stderr
	BlockRun         = "run"          // the result file of the short functional `ringbench run`
	BlockRunLog      = "run-log"      // stdout and stderr of that run, or why it did not run
)

// BootSchema names the per-boot summary file that Process writes and Table reads.
const (
	BootSchema  = "ringbench/kmatrix-boot"
	BootVersion = 1
)

// Options says how to file one boot's results.
type Options struct {
	OutDir string
	// Accel is the accelerator the host started qemu with: "kvm" or "tcg". "" takes the guest's word
	// (accel= in the meta block, from the kernel command line); when both are given they must agree.
	Accel string
	// Label names the boot's files and the results' label; "" = "<major>.<minor>-<accel>" of the guest kernel.
	Label string
	// Package is the Debian package the kernel came from (informational).
	Package string
	// Notes are recorded as warnings of the boot (the script notes failed earlier attempts here).
	Notes []string
}

// Boot is the summary of one boot, written as <label>.boot.json.
type Boot struct {
	Schema      string            `json:"schema"`
	Version     int               `json:"version"`
	Label       string            `json:"label"`
	Log         string            `json:"log"`
	Package     string            `json:"package,omitempty"`
	Accelerator string            `json:"accelerator"`
	Emulated    bool              `json:"emulated"`
	Meta        map[string]string `json:"meta,omitempty"`
	// Files maps each block name to the file it was written to, relative to the output directory.
	Files    map[string]string `json:"files,omitempty"`
	Row      Row               `json:"row"`
	Warnings []string          `json:"warnings,omitempty"`
	Problems []string          `json:"problems,omitempty"`
}

// Process files the verified blocks of a console log into opts.OutDir and returns the boot summary.
// Every file is written atomically. Usable blocks are written even when others are missing or corrupt;
// the returned error then lists what is wrong (and wraps ErrCorrupt).
func Process(c *Console, opts Options) (*Boot, error) {
	if opts.OutDir == "" {
		return nil, errors.New("kmatrix: no output directory")
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	b := &Boot{Schema: BootSchema, Version: BootVersion, Log: c.Log, Package: opts.Package, Files: map[string]string{}}
	var problems []error
	fail := func(err error) {
		problems = append(problems, err)
	}
	if err := c.Err(); err != nil {
		fail(err)
	}

	if mb := c.Block(BlockMeta); mb != nil {
		b.Meta = parseMeta(mb.Data)
	} else {
		fail(fmt.Errorf("%s: block %q missing: kernel release and io_uring_disabled unknown: %w", c.Log, BlockMeta, ErrCorrupt))
	}

	accel := opts.Accel
	guestAccel := b.Meta["accel"]
	switch {
	case accel == "":
		accel = guestAccel
	case guestAccel != "" && guestAccel != accel:
		return nil, fmt.Errorf("%s: the host says accelerator %q, the guest's command line %q", c.Log, accel, guestAccel)
	}
	if accel != "kvm" && accel != "tcg" {
		return nil, fmt.Errorf("%s: accelerator %q unknown (want kvm or tcg; pass -accel)", c.Log, accel)
	}
	b.Accelerator, b.Emulated = accel, accel == "tcg"

	release := b.Meta["release"]
	b.Label = opts.Label
	if b.Label == "" {
		b.Label = SeriesOf(release) + "-" + accel
		if release == "" {
			b.Label = "unknown-" + accel
		}
	}
	if !validName(b.Label) {
		return nil, fmt.Errorf("%s: label %q is not usable as a file name", c.Log, b.Label)
	}
	b.Row = Row{Label: b.Label, Release: release, Accelerator: accel, IOUringDisabled: b.Meta["io_uring_disabled"],
		SQPoll: unknown, DeferTaskrun: unknown, BufRing: unknown, MultishotRecv: unknown, MultishotAccept: unknown}
	if b.Emulated {
		b.Warnings = append(b.Warnings, EmulatedWarning)
	}
	b.Warnings = append(b.Warnings, opts.Notes...)

	write := func(name, file string, data []byte) {
		if err := result.WriteFileAtomic(filepath.Join(opts.OutDir, file), data, true); err != nil {
			fail(err)
			return
		}
		b.Files[name] = file
	}

	// Plain-text blocks are kept as they came.
	for _, name := range []string{BlockMeta, BlockProbeStderr, BlockRunLog} {
		if blk := c.Block(name); blk != nil {
			write(name, b.Label+"."+name+".txt", blk.Data)
		}
	}

	// The probe: stamped with the accelerator and summarised into the matrix row.
	if pb := c.Block(BlockProbe); pb == nil {
		b.Row.Probe = "no probe block"
	} else if pb.Exit != 0 && len(bytes.TrimSpace(pb.Data)) == 0 {
		b.Row.Probe = fmt.Sprintf("failed (exit %d)", pb.Exit)
		if stderr := c.Block(BlockProbeStderr); stderr != nil {
			b.Row.Probe += ": " + firstLine(stderr.Data)
		}
	} else {
		data, fp, probeIOU, err := stampProbe(pb.Data, accel)
		if err != nil {
			fail(fmt.Errorf("%s: block %q (line %d): %v: %w", c.Log, BlockProbe, pb.Line, err, ErrCorrupt))
			b.Row.Probe = "unreadable"
		} else {
			write(BlockProbe, b.Label+".probe.json", data)
			b.Row.Probe = "ok"
			if pb.Exit != 0 {
				b.Row.Probe = fmt.Sprintf("exit %d", pb.Exit)
			}
			b.Row.fill(fp, probeIOU)
			if fp.Virt.Emulated && !b.Emulated {
				b.markEmulated("the probe found the guest emulated although qemu ran with " + accel)
			}
			if fp.Kernel.Release != "" && release != "" && fp.Kernel.Release != release {
				fail(fmt.Errorf("%s: the probe reports kernel %q, uname in the guest %q", c.Log, fp.Kernel.Release, release))
			}
			if g, p := b.Row.IOUringDisabled, fp.IOUring.Disabled; g != "" && p != "" && g != p {
				b.Warnings = append(b.Warnings, fmt.Sprintf("the probe reports io_uring_disabled %q, the guest's /proc %q", p, g))
			}
			if b.Row.IOUringDisabled == "" {
				b.Row.IOUringDisabled = fp.IOUring.Disabled
			}
		}
	}

	// Capabilities tried for real by `kmatrix caps` in the guest: they fill in what the probe's output lacks.
	if cb := c.Block(BlockCaps); cb != nil {
		caps, err := decodeCaps(cb.Data)
		if err != nil {
			fail(fmt.Errorf("%s: block %q (line %d): %v: %w", c.Log, BlockCaps, cb.Line, err, ErrCorrupt))
		} else {
			write(BlockCaps, b.Label+".caps.json", cb.Data)
			b.Row.BufRing = mergeCap(b, "buf ring", b.Row.BufRing, caps.BufRing)
			b.Row.MultishotRecv = mergeCap(b, "multishot recv", b.Row.MultishotRecv, caps.MultishotRecv)
		}
	}

	// The functional run: a result file, stamped, or the reason there is none.
	if rb := c.Block(BlockRun); rb != nil {
		f, err := result.Decode(rb.Data)
		if err != nil {
			fail(fmt.Errorf("%s: block %q (line %d): %v: %w", c.Log, BlockRun, rb.Line, err, ErrCorrupt))
			b.Row.Run = "unreadable result"
		} else {
			if conflict := StampResult(f, accel, b.Label); conflict != "" {
				b.markEmulated("result: " + conflict)
			}
			file := b.Label + ".result.json"
			if err := result.Save(filepath.Join(opts.OutDir, file), f, true); err != nil {
				fail(err)
			} else {
				b.Files[BlockRun] = file
			}
			b.Row.Run = runSummary(f, rb.Exit)
		}
	} else if rl := c.Block(BlockRunLog); rl != nil {
		switch rl.Exit {
		case 127: // the guest's convention for "not run", with the reason as the log
			b.Row.Run = "skipped: " + firstLine(rl.Data)
		case 0:
			b.Row.Run = "no result file: " + lastLine(rl.Data)
		default:
			b.Row.Run = fmt.Sprintf("failed (exit %d): %s", rl.Exit, lastLine(rl.Data))
		}
	} else {
		b.Row.Run = "no result"
	}

	for _, p := range problems {
		b.Problems = append(b.Problems, p.Error())
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := result.WriteFileAtomic(filepath.Join(opts.OutDir, b.Label+".boot.json"), append(data, '\n'), true); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return b, errors.Join(problems...)
	}
	return b, nil
}

// markEmulated records that the boot's figures are emulated after all, and why.
func (b *Boot) markEmulated(why string) {
	b.Emulated = true
	b.Warnings = addOnce(b.Warnings, EmulatedWarning)
	b.Warnings = addOnce(b.Warnings, why)
}

// mergeCap prefers what the probe said, fills in from caps what it did not, and warns when they disagree.
func mergeCap(b *Boot, what, fromProbe string, c Cap) string {
	fromCaps := c.cell()
	if fromProbe == unknown || fromProbe == "" {
		return fromCaps
	}
	if strings.HasPrefix(fromProbe, "yes") != c.Supported {
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s: the probe says %q, kmatrix caps %q", what, fromProbe, fromCaps))
	}
	return fromProbe
}

// StampResult marks a result file with the accelerator qemu ran with. A TCG result, or one the guest
// itself found emulated, gets Emulated=true and a warning in the file and in every sample: a guest's own
// finding is never cleared, so a result is never passed off as native when either side says otherwise.
// An empty label is filled with label. It returns a note when the guest and the host disagree.
func StampResult(f *result.File, accel, label string) (conflict string) {
	guestEmulated := f.Env.Virt.Emulated || f.Env.Virt.Accelerator == "tcg"
	if accel != "tcg" && guestEmulated {
		conflict = fmt.Sprintf("qemu ran with %s but the guest found itself emulated (%s): kept as emulated", accel, f.Env.Virt.Evidence)
	}
	f.Env.Virt.Accelerator = accel
	f.Env.Virt.Emulated = accel == "tcg" || guestEmulated
	if f.Label == "" {
		f.Label = label
	}
	if !f.Env.Virt.Emulated {
		return conflict
	}
	emulated := result.Warning{Kind: result.WarnEmulated, Text: EmulatedWarning}
	f.Warnings = result.AddWarnings(f.Warnings, emulated)
	for i := range f.Samples {
		f.Samples[i].Warnings = result.AddWarnings(f.Samples[i].Warnings, emulated)
	}
	return conflict
}

func addOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// stampProbe reads the output of `ringbench probe --json`, marks it with the accelerator and returns the
// re-encoded document, the fingerprint inside it and the probe's own io_uring member (capabilities the
// fingerprint type does not hold: buffer rings, multishot). The fingerprint is the document's
// "fingerprint" or "env" member, or the document itself when that has a fingerprint-shaped "io_uring".
// Its virt.accelerator and virt.emulated are set, as is any top-level "virt"; a "kernel_matrix" member
// says where the probe ran. Members this package does not know are kept as they were.
func stampProbe(data []byte, accel string) ([]byte, *fingerprint.Fingerprint, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, nil, fmt.Errorf("probe output is not a JSON object: %v", err)
	}
	var fp *fingerprint.Fingerprint
	var fpObj map[string]any
	for _, cand := range []any{doc["fingerprint"], doc["env"], doc} {
		m, ok := cand.(map[string]any)
		if !ok {
			continue
		}
		if _, ok := m["io_uring"].(map[string]any); !ok {
			continue
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, nil, nil, err
		}
		var f fingerprint.Fingerprint
		if json.Unmarshal(raw, &f) == nil {
			fp, fpObj = &f, m
			break
		}
	}
	if fp == nil {
		return nil, nil, nil, errors.New(`probe output holds no fingerprint (an "io_uring" member at the top, in "fingerprint" or in "env")`)
	}
	// As with results, the guest's own finding that it is emulated is kept.
	emulated := accel == "tcg" || fp.Virt.Emulated || fp.Virt.Accelerator == "tcg"
	stampVirt(fpObj, accel, emulated)
	if _, ok := doc["virt"].(map[string]any); ok {
		stampVirt(doc, accel, emulated)
	}
	fp.Virt.Accelerator, fp.Virt.Emulated = accel, emulated
	km := map[string]any{"accelerator": accel, "emulated": emulated}
	if emulated {
		km["warning"] = EmulatedWarning
	}
	doc["kernel_matrix"] = km
	iou, _ := doc["io_uring"].(map[string]any)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, nil, nil, err
	}
	return append(out, '\n'), fp, iou, nil
}

// stampVirt sets obj.virt.accelerator, and obj.virt.emulated when emulated (it never clears it).
func stampVirt(obj map[string]any, accel string, emulated bool) {
	virt, _ := obj["virt"].(map[string]any)
	if virt == nil {
		virt = map[string]any{}
	}
	virt["accelerator"] = accel
	if emulated {
		virt["emulated"] = true
	}
	obj["virt"] = virt
}

func parseMeta(data []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && k != "" {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

var seriesRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// SeriesOf returns "major.minor" of a kernel release ("6.1.0-56-cloud-amd64" -> "6.1"), or "" when the
// release does not start with one.
func SeriesOf(release string) string {
	m := seriesRE.FindStringSubmatch(release)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return firstLine([]byte(s))
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// runSummary says what the functional run did, without performance figures: under TCG they mean nothing,
// and the matrix is about features.
func runSummary(f *result.File, exit int) string {
	backends := map[string]int{}
	for _, s := range f.Samples {
		if s.Ops > 0 {
			backends[s.Backend]++
		} else if _, ok := backends[s.Backend]; !ok {
			backends[s.Backend] = 0
		}
	}
	var ok, zero []string
	for k, n := range backends {
		if n > 0 {
			ok = append(ok, k)
		} else {
			zero = append(zero, k)
		}
	}
	sort.Strings(ok)
	sort.Strings(zero)
	var skipped []string
	for _, s := range f.Skipped {
		skipped = append(skipped, s.Backend)
	}
	sort.Strings(skipped)
	parts := []string{}
	if len(ok) > 0 {
		parts = append(parts, "ran "+strings.Join(ok, ","))
	}
	if len(zero) > 0 {
		parts = append(parts, "0 ops "+strings.Join(zero, ","))
	}
	if len(skipped) > 0 {
		parts = append(parts, "skipped "+strings.Join(dedupe(skipped), ","))
	}
	if len(parts) == 0 {
		parts = append(parts, "no samples")
	}
	s := strings.Join(parts, "; ")
	if exit != 0 {
		s = fmt.Sprintf("exit %d: %s", exit, s)
	}
	if f.Interrupted {
		s += " (interrupted)"
	}
	return s
}

func dedupe(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
