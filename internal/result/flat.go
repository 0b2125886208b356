package result

import "encoding/json"

// MarshalJSON writes a sample with its headline figures also at the top level (syscalls_per_op,
// cpu_ns_per_op), so that jq one-liners and other tools need not know the nested layout. A figure that was
// not counted is null there, never 0. Reading ignores them: the nested fields are the data.
func (s Sample) MarshalJSON() ([]byte, error) {
	type plain Sample // no methods: avoids recursing into MarshalJSON
	var sys *float64
	if s.Syscalls.Available {
		v := s.Syscalls.PerOp
		sys = &v
	}
	var cpu *float64
	if s.CPU.PerOpNs > 0 {
		v := s.CPU.PerOpNs
		cpu = &v
	}
	return json.Marshal(struct {
		plain
		SyscallsPerOp *float64 `json:"syscalls_per_op"`
		CPUNsPerOp    *float64 `json:"cpu_ns_per_op"`
	}{plain(s), sys, cpu})
}
