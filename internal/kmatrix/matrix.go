package kmatrix

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/fingerprint"
)

// Row is one kernel's line in the feature matrix. Capability columns read "yes", "no" (with the reason
// when the probe gave one) or "?" (the probe did not say).
type Row struct {
	Label       string `json:"label"`
	Release     string `json:"release"`
	Accelerator string `json:"accelerator"`
	// IOUringDisabled is kernel.io_uring_disabled as the guest's /proc shows it: "absent" before 6.6.
	IOUringDisabled string   `json:"io_uring_disabled"`
	Probe           string   `json:"probe"` // "ok", or why there are no probe figures
	Setup           string   `json:"setup,omitempty"`
	Features        uint32   `json:"features"`
	FeatureNames    []string `json:"feature_names,omitempty"`
	LastOpcode      int      `json:"last_opcode"`
	Opcodes         []string `json:"opcodes,omitempty"`
	SetupFlags      []string `json:"setup_flags,omitempty"`
	SQPoll          string   `json:"sqpoll"`
	DeferTaskrun    string   `json:"defer_taskrun"`
	MultishotRecv   string   `json:"multishot_recv"`
	MultishotAccept string   `json:"multishot_accept"`
	BufRing         string   `json:"buf_ring"`
	Run             string   `json:"run"`
}

const unknown = "?"

// fill takes the io_uring columns from a probe's fingerprint and the probe's own io_uring member (nil
// when it has none), which reports what was tried beyond setup: buf_ring, multishot_recv, multishot_accept.
func (r *Row) fill(fp *fingerprint.Fingerprint, probeIOU map[string]any) {
	iou := fp.IOUring
	if !iou.SetupOK {
		r.Setup = "fails"
		if iou.SetupErrno != "" {
			r.Setup += " (" + iou.SetupErrno + ")"
		} else if iou.SetupError != "" {
			r.Setup += " (" + iou.SetupError + ")"
		}
		r.SQPoll, r.DeferTaskrun, r.MultishotRecv, r.MultishotAccept, r.BufRing = "no", "no", "no", "no", "no"
		return
	}
	r.Setup = "ok"
	r.Features = iou.Features
	r.FeatureNames = append([]string(nil), iou.FeatureSet...)
	r.LastOpcode = iou.LastOpcode
	r.Opcodes = append([]string(nil), iou.Opcodes...)
	r.SetupFlags = append([]string(nil), iou.SetupFlags...)
	switch {
	case iou.SQPoll:
		r.SQPoll = "yes"
	case iou.SQPollErr != "":
		r.SQPoll = "no (" + iou.SQPollErr + ")"
	default:
		r.SQPoll = "no"
	}
	if iou.SetupFlags != nil {
		r.DeferTaskrun = yesNo(hasName(iou.SetupFlags, "DEFER_TASKRUN"))
	}
	r.BufRing = capability(probeIOU["buf_ring"])
	r.MultishotRecv = capability(probeIOU["multishot_recv"])
	r.MultishotAccept = capability(probeIOU["multishot_accept"])
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// hasName reports whether names holds want, with or without an IORING_SETUP_/IORING_FEAT_ prefix.
func hasName(names []string, want string) bool {
	for _, n := range names {
		n = strings.ToUpper(n)
		if n == want || strings.HasSuffix(n, "_"+want) {
			return true
		}
	}
	return false
}

// capability reads one capability member of the probe's io_uring object: a bool, or an object with
// "supported" (and "detail", quoted when it is a no). Anything else is "?".
func capability(v any) string {
	switch t := v.(type) {
	case bool:
		return yesNo(t)
	case map[string]any:
		sup, ok := t["supported"].(bool)
		if !ok {
			return unknown
		}
		if sup {
			return "yes"
		}
		if d, _ := t["detail"].(string); d != "" {
			return "no (" + d + ")"
		}
		return "no"
	}
	return unknown
}

// LoadBoots reads boot summaries, ordered by kernel version and then label. Each argument is a
// <label>.boot.json file or a directory, which stands for every *.boot.json in it.
func LoadBoots(args ...string) ([]*Boot, error) {
	var paths []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			paths = append(paths, a)
			continue
		}
		found, err := filepath.Glob(filepath.Join(a, "*.boot.json"))
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.boot.json files (run kmatrix parse first)", a)
		}
		paths = append(paths, found...)
	}
	if len(paths) == 0 {
		return nil, ErrNoBoots
	}
	var boots []*Boot
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var b Boot
		if err := json.Unmarshal(data, &b); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		if b.Schema != BootSchema {
			return nil, fmt.Errorf("%s: not a kernel-matrix boot summary (schema %q)", p, b.Schema)
		}
		if b.Version > BootVersion {
			return nil, fmt.Errorf("%s: boot summary version %d is newer than this tool reads (%d)", p, b.Version, BootVersion)
		}
		boots = append(boots, &b)
	}
	SortBoots(boots)
	return boots, nil
}

// SortBoots orders boots by kernel release (numerically) and then by label.
func SortBoots(boots []*Boot) {
	sort.SliceStable(boots, func(i, j int) bool {
		a, b := versionKey(boots[i].Row.Release), versionKey(boots[j].Row.Release)
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return boots[i].Label < boots[j].Label
	})
}

func versionKey(release string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(release, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
		if len(out) == 4 {
			break
		}
	}
	return out
}

// ErrNoBoots is returned by Table when it is given nothing to show.
var ErrNoBoots = errors.New("no boots to tabulate")

// Table renders the feature matrix of boots as Markdown: one row per boot, then what each kernel adds
// over the first (opcodes, feature flags, setup flags), then every warning and problem. It shows no
// performance figures: rows may come from emulated (TCG) boots.
func Table(boots []*Boot) (string, error) {
	if len(boots) == 0 {
		return "", ErrNoBoots
	}
	var b strings.Builder
	b.WriteString("| kernel release | accel | io_uring_disabled | setup | features | last opcode | opcodes | SQPOLL | DEFER_TASKRUN | buf ring | multishot recv | multishot accept | functional run |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, bt := range boots {
		r := bt.Row
		accel := bt.Accelerator
		if accel == "" {
			accel = r.Accelerator
		}
		if bt.Emulated {
			accel += " (emulated)"
		}
		features, last, nops := "-", "-", "-"
		if r.Setup == "ok" {
			features = fmt.Sprintf("0x%x", r.Features)
			last = strconv.Itoa(r.LastOpcode)
			if len(r.Opcodes) > 0 {
				nops = strconv.Itoa(len(r.Opcodes))
			}
		}
		setup := r.Setup
		if setup == "" {
			setup = "probe " + r.Probe
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			cell(r.Release), cell(accel), cell(r.IOUringDisabled), cell(setup), features, last, nops,
			cell(r.SQPoll), cell(r.DeferTaskrun), cell(r.BufRing), cell(r.MultishotRecv), cell(r.MultishotAccept), cell(r.Run))
	}
	if len(boots) > 1 && boots[0].Row.Setup == "ok" {
		base := boots[0].Row
		var diffs []string
		for _, bt := range boots[1:] {
			r := bt.Row
			if r.Setup != "ok" {
				continue
			}
			var parts []string
			if ops := minus(r.Opcodes, base.Opcodes); len(ops) > 0 {
				parts = append(parts, fmt.Sprintf("opcodes +%d: %s", len(ops), strings.Join(ops, " ")))
			}
			if fs := minus(r.FeatureNames, base.FeatureNames); len(fs) > 0 {
				parts = append(parts, "features: "+strings.Join(fs, " "))
			}
			if sf := minus(r.SetupFlags, base.SetupFlags); len(sf) > 0 {
				parts = append(parts, "setup flags: "+strings.Join(sf, " "))
			}
			if gone := minus(base.Opcodes, r.Opcodes); len(gone) > 0 {
				parts = append(parts, "opcodes missing: "+strings.Join(gone, " "))
			}
			if len(parts) > 0 {
				diffs = append(diffs, fmt.Sprintf("- %s over %s: %s", r.Release, base.Release, strings.Join(parts, "; ")))
			}
		}
		if len(diffs) > 0 {
			b.WriteString("\n")
			b.WriteString(strings.Join(diffs, "\n"))
			b.WriteString("\n")
		}
	}
	var notes []string
	for _, bt := range boots {
		for _, w := range bt.Warnings {
			notes = append(notes, fmt.Sprintf("- %s: %s", bt.Label, w))
		}
		for _, p := range bt.Problems {
			notes = append(notes, fmt.Sprintf("- %s: PROBLEM: %s", bt.Label, p))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		b.WriteString(strings.Join(notes, "\n"))
		b.WriteString("\n")
	}
	return b.String(), nil
}

// minus returns the members of a not in b, in a's order.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

func cell(s string) string {
	if s == "" {
		return unknown
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}
