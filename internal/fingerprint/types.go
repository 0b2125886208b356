// Package fingerprint records the environment a measurement ran in: kernel, CPU, mitigations, io_uring state,
// limits, virtualisation, Go runtime and the data directory. Every field may be missing: a reader treats an
// empty value as "unknown", never as a fact.
package fingerprint

import "time"

// Fingerprint is the environment of one run. It is stored inside every result file.
type Fingerprint struct {
	TimeUTC  time.Time `json:"time_utc"`
	HostHash string    `json:"host_hash,omitempty"` // SHA-256 prefix of the hostname: identifies, does not reveal
	Tool     Tool      `json:"tool"`
	Kernel   Kernel    `json:"kernel"`
	Distro   string    `json:"distro,omitempty"`
	CPU      CPU       `json:"cpu"`
	// Mitigations maps each file of /sys/devices/system/cpu/vulnerabilities to its content.
	Mitigations map[string]string `json:"mitigations,omitempty"`
	// SyscallNs is the measured cost of one null syscall (MeasureSyscallNs); 0 when not measured and in files
	// written before it was recorded.
	SyscallNs float64   `json:"syscall_ns,omitempty"`
	IOUring   IOUring   `json:"io_uring"`
	Limits    Limits    `json:"limits"`
	Memory    Memory    `json:"memory"`
	Virt      Virt      `json:"virt"`
	LoadAvg   []float64 `json:"load_avg,omitempty"`
	Go        GoRuntime `json:"go"`
	DataDir   *DataDir  `json:"data_dir,omitempty"`
}

// Tool identifies the ringbench build.
type Tool struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
}

// Kernel is uname and the boot command line.
type Kernel struct {
	Release string `json:"release"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch"`
	Cmdline string `json:"cmdline,omitempty"`
}

// CPU describes the processors and how they are governed.
type CPU struct {
	Model         string `json:"model,omitempty"`
	Microcode     string `json:"microcode,omitempty"`
	Logical       int    `json:"logical,omitempty"`
	Physical      int    `json:"physical,omitempty"` // cores, not packages
	SMT           string `json:"smt,omitempty"`      // /sys/devices/system/cpu/smt/control
	Affinity      string `json:"affinity,omitempty"` // this process's allowed CPUs, e.g. "0-1"
	Isolated      string `json:"isolated,omitempty"`
	ScalingDriver string `json:"scaling_driver,omitempty"`
	Governor      string `json:"governor,omitempty"`
	Turbo         string `json:"turbo,omitempty"`
}

// IOUring is what this kernel allows of io_uring for this user.
type IOUring struct {
	// Disabled is kernel.io_uring_disabled: "absent" (the sysctl does not exist, kernels before 6.6), "0", "1" or "2".
	Disabled   string   `json:"disabled"`
	Group      string   `json:"group,omitempty"` // kernel.io_uring_group
	SetupOK    bool     `json:"setup_ok"`
	SetupError string   `json:"setup_error,omitempty"` // plain words when SetupOK is false
	SetupErrno string   `json:"setup_errno,omitempty"` // e.g. "EPERM" when SetupOK is false
	Features   uint32   `json:"features,omitempty"`
	FeatureSet []string `json:"feature_names,omitempty"`
	LastOpcode int      `json:"last_opcode,omitempty"`
	Opcodes    []string `json:"opcodes,omitempty"`     // supported opcode names
	SetupFlags []string `json:"setup_flags,omitempty"` // accepted setup flags by name
	SQPoll     bool     `json:"sqpoll"`
	SQPollErr  string   `json:"sqpoll_error,omitempty"`
}

// Limits are the resource limits that bound what a run can open or lock.
type Limits struct {
	MemlockBytes int64 `json:"memlock_bytes,omitempty"` // -1 = unlimited
	Nofile       int64 `json:"nofile,omitempty"`
}

// Memory is system memory configuration.
type Memory struct {
	TotalBytes int64  `json:"total_bytes,omitempty"`
	THP        string `json:"thp,omitempty"`
	NUMANodes  int    `json:"numa_nodes,omitempty"`
}

// Virt says whether the run was virtualised or emulated. Emulated (e.g. qemu TCG) performance figures are
// not comparable with native ones.
type Virt struct {
	Hypervisor  string `json:"hypervisor,omitempty"`  // "" = none detected
	Container   string `json:"container,omitempty"`   // docker, podman, lxc, ... or ""
	Accelerator string `json:"accelerator,omitempty"` // for kernel-matrix runs: "kvm" or "tcg"
	Emulated    bool   `json:"emulated,omitempty"`
	// Evidence lists what the detection saw, e.g. "cpuinfo hypervisor flag, kvm-clock, /.dockerenv".
	Evidence string `json:"evidence,omitempty"`
}

// GoRuntime is the Go toolchain and scheduler setting of the measuring process.
type GoRuntime struct {
	Version    string `json:"version"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOGC       string `json:"gogc,omitempty"`
}

// DataDir describes where file workloads kept their data set.
type DataDir struct {
	Path         string `json:"path"`
	FSType       string `json:"fs_type,omitempty"`
	MountOptions string `json:"mount_options,omitempty"`
	Device       string `json:"device,omitempty"`
	Scheduler    string `json:"scheduler,omitempty"`
}
