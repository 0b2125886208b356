package caps

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/ringbench/ringbench/internal/ring"
)

// probeEntries is the size of every probe ring: small, so that a tight RLIMIT_MEMLOCK does not decide.
const probeEntries = 8

// base is what one plain ring tells: whether setup works, the features, and the opcode list.
type base struct {
	err      error
	features uint32
	opcodes  []bool
	lastOp   uint8
	opErr    error
}

var baseMemo memo[base]

func probeBase() base {
	var b base
	r, err := ring.New(ring.Params{Entries: probeEntries, SQThreadCPU: -1})
	if err != nil {
		b.err = setupError("io_uring", NoFlag, err)
		b.opErr = b.err
		return b
	}
	defer r.Close()
	b.features = r.Features()
	sup, last, err := r.ProbeOpcodes()
	if err != nil {
		b.opErr = &Error{Capability: "opcode probe", Err: err, Errno: ErrnoOf(err),
			Reason: "the kernel cannot list its opcodes (IORING_REGISTER_PROBE, 5.6+): too old for ringbench's io_uring backends"}
	} else {
		b.opcodes, b.lastOp = sup, last
	}
	return b
}

// Setup reports whether this process can set up a plain io_uring instance.
func Setup() error { return baseMemo.get(probeBase).err }

// Features returns io_uring_params.features of a plain ring (IORING_FEAT_*).
func Features() (uint32, error) {
	b := baseMemo.get(probeBase)
	return b.features, b.err
}

// Opcodes returns the kernel's opcode list from IORING_REGISTER_PROBE: supported[op] for each opcode it
// knows, and the highest opcode it knows. The slice is shared: do not modify it.
func Opcodes() (supported []bool, lastOp uint8, err error) {
	b := baseMemo.get(probeBase)
	return b.opcodes, b.lastOp, b.opErr
}

// Opcode reports whether the kernel supports opcode op (a ring.Op* constant).
func Opcode(op uint8) error {
	sup, _, err := Opcodes()
	if err != nil {
		return err
	}
	if int(op) < len(sup) && sup[op] {
		return nil
	}
	name := ring.OpcodeName(op)
	return &Error{Capability: "opcode " + name, Reason: "the kernel lacks IORING_OP_" + name}
}

// Flag is an io_uring setup flag that the probes try on its own, without falling back.
type Flag int

// The setup flags probed, in report order (Flags). NoFlag means a plain ring.
const (
	NoFlag Flag = iota
	FlagSQPoll
	FlagSingleIssuer
	FlagDeferTaskrun
	FlagCoopTaskrun
	FlagTaskrunFlag
	FlagNoSQArray
	numFlags
)

// flagSpec is how one flag is asked for, the bits that show it was granted, and the kernel that added it.
type flagSpec struct {
	name   string
	params func(*ring.Params)
	bits   uint32
	since  string
	needs  string
}

var flagSpecs = [numFlags]flagSpec{
	NoFlag: {name: "none", params: func(*ring.Params) {}},
	FlagSQPoll: {name: "SQPOLL", since: "5.1 (5.11 without CAP_SYS_ADMIN)", bits: ring.SetupSQPoll,
		params: func(q *ring.Params) { q.SQPoll = true; q.SQThreadIdle = 10 * time.Millisecond }},
	FlagSingleIssuer: {name: "SINGLE_ISSUER", since: "6.0", bits: ring.SetupSingleIssuer,
		params: func(q *ring.Params) { q.SingleIssuer = true }},
	FlagDeferTaskrun: {name: "DEFER_TASKRUN", since: "6.1", needs: "SINGLE_ISSUER", bits: ring.SetupDeferTaskrun,
		params: func(q *ring.Params) { q.SingleIssuer = true; q.DeferTaskrun = true }},
	// The ring package asks for COOP_TASKRUN together with TASKRUN_FLAG, the way the backends use them; each
	// is decided from the flags the kernel kept.
	FlagCoopTaskrun: {name: "COOP_TASKRUN", since: "5.19", bits: ring.SetupCoopTaskrun,
		params: func(q *ring.Params) { q.CoopTaskrun = true }},
	FlagTaskrunFlag: {name: "TASKRUN_FLAG", since: "5.19", needs: "COOP_TASKRUN", bits: ring.SetupTaskrunFlag,
		params: func(q *ring.Params) { q.CoopTaskrun = true }},
	FlagNoSQArray: {name: "NO_SQARRAY", since: "6.6", bits: ring.SetupNoSQArray,
		params: func(q *ring.Params) { q.NoSQArray = true }},
}

func (f Flag) spec() flagSpec {
	if f < 0 || f >= numFlags {
		return flagSpec{name: fmt.Sprintf("Flag(%d)", int(f))}
	}
	return flagSpecs[f]
}

// String is the flag's IORING_SETUP_ name without prefix ("SQPOLL").
func (f Flag) String() string { return f.spec().name }

// Flags lists the probed setup flags in report order.
func Flags() []Flag {
	out := make([]Flag, 0, numFlags-1)
	for f := NoFlag + 1; f < numFlags; f++ {
		out = append(out, f)
	}
	return out
}

var flagMemo [numFlags]memo[error]

// SetupFlag reports whether the kernel accepts setup flag f for this process, asked for on its own with
// no fallback. When a plain ring cannot be set up, it returns Setup's error.
func SetupFlag(f Flag) error {
	if f <= NoFlag || f >= numFlags {
		return fmt.Errorf("caps: unknown setup flag %d", int(f))
	}
	return flagMemo[f].get(func() error { return probeFlag(f) })
}

func probeFlag(f Flag) error {
	if err := Setup(); err != nil {
		return err
	}
	s := f.spec()
	p := ring.Params{Entries: probeEntries, SQThreadCPU: -1, NoFallback: true}
	s.params(&p)
	// A ring with SINGLE_ISSUER belongs to the thread that made it: set it up and close it on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := ring.New(p)
	if err != nil {
		return setupError("setup flag "+s.name, f, err)
	}
	defer r.Close()
	if got := r.SetupFlags(); got&s.bits != s.bits {
		return &Error{Capability: "setup flag " + s.name, Reason: fmt.Sprintf("the ring was set up without it (flags %#x)", got)}
	}
	return nil
}

// bufGroup is the buffer group the probes register.
const bufGroup = 1

var bufRingMemo memo[error]

// BufRing reports whether a provided-buffer ring can be registered (IORING_REGISTER_PBUF_RING, 5.19+).
func BufRing() error { return bufRingMemo.get(probeBufRing) }

func probeBufRing() error {
	r, err := probeRing()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.NewBufRing(bufGroup, 8, 512)
	return bufRingError(err)
}

func bufRingError(err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Capability: "provided-buffer ring", Err: err, Errno: ErrnoOf(err),
		Reason: "registering a provided-buffer ring failed: " + err.Error()}
	if errors.Is(err, ring.ErrNotSupported) {
		e.Reason = "the kernel rejected IORING_REGISTER_PBUF_RING (" + ErrnoName(e.Errno) + "): it needs 5.19"
	}
	return e
}

// probeRing sets up a plain ring for a trial: Setup's error when io_uring is unavailable, a plain error
// (the probe cannot decide) when only this ring fails.
func probeRing() (*ring.Ring, error) {
	if err := Setup(); err != nil {
		return nil, err
	}
	r, err := ring.New(ring.Params{Entries: probeEntries, SQThreadCPU: -1})
	if err != nil {
		return nil, fmt.Errorf("ring setup failed: %w", err)
	}
	return r, nil
}
