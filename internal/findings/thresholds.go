package findings

// Thresholds. A claim is a round figure said of machines in general; each band below is as wide as the
// spread of that figure across ordinary machines, so that the verdict judges the claim, not this CPU.
const (
	// SyscallNsMitigated and SyscallNsPlain are claim 1's figures. Factor is how far a measured figure may
	// be from a claimed one and still match it: a null syscall's cost varies about 2x across CPUs of one
	// generation and with the hypervisor, and 2x still tells ~230 ns (up to 460) from ~700 ns (from 350)
	// apart in all but their overlap.
	SyscallNsMitigated = 700.0
	SyscallNsPlain     = 230.0
	Factor             = 2.0

	// LevelLo..LevelHi and OneshotLo..OneshotHi are claim 2's bands of syscalls per request: the claimed 2
	// and 4, give or take half a syscall. The figure is fractional because one epoll_wait serves every
	// connection ready at once: per request it is 1/(connections ready together), so 2 is read + write
	// with the wait shared by many connections, and a band of ±0.5 admits a wait per two requests or less.
	LevelLo, LevelHi     = 1.5, 2.5
	OneshotLo, OneshotHi = 3.5, 4.5
	// RequestRate and CPUShare are claim 2's "at 100k req/s that is up to 30% of a CPU": the share is
	// syscalls per request × the null syscall's cost × RequestRate, matched within Factor.
	RequestRate = 100e3
	CPUShare    = 0.30

	// SQPollEnterShare is claim 4's "removes": SQPOLL's io_uring_enter calls per op at most this share of
	// plain io_uring's on the same workload (at least half of them gone). The enters that remain are waits
	// for completions, which SQPOLL does not remove.
	SQPollEnterShare = 0.5
	// BurnCores is claim 4's "burns a core": the poll thread busy at least half a CPU's time while the
	// workload runs (it spins for --sq-idle before it sleeps, so under load it is rarely idle).
	BurnCores = 0.5

	// BufferBytes is claim 5's least memory a per-connection buffer costs: ringbench posts a 4 KiB receive
	// buffer on each connection; differences below 1 KiB per connection are allocator and page noise.
	BufferBytes = 1024.0

	// BlockingSwitches is claim 6's sign that a read blocked: context switches per read at least this many
	// (a read that misses the page cache sleeps in the kernel until the device answers: one switch each;
	// a read that hits switches almost never). ColdSpeedup is io_uring's least throughput over epoll's
	// on a cold data set for "io_uring can": with --depth reads in flight against one at a time, the
	// device's own parallelism should give well over 1.5x.
	BlockingSwitches = 0.5
	ColdSpeedup      = 1.5

	// MissedShare is claim 8's "miss": syscalls per op at most this share of the requests the ring
	// submitted per op, i.e. a syscall tracer sees at most half of the work.
	MissedShare = 0.5
)
