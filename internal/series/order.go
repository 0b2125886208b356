package series

import "github.com/ringbench/ringbench/internal/result"

// Order is the display order of backends and workloads, and what one op of each workload is, merged from
// what result files record (result.Display): no registry is needed to present a file.
type Order struct {
	backends  map[string]int
	workloads map[string]int
	units     map[string]result.WorkloadDisplay
}

// NewOrder merges the displays of several files: the first file's order first, names that only later
// files know after them.
func NewOrder(ds ...result.Display) *Order {
	o := &Order{backends: map[string]int{}, workloads: map[string]int{}, units: map[string]result.WorkloadDisplay{}}
	for _, d := range ds {
		for _, b := range d.Backends {
			if _, ok := o.backends[b]; !ok {
				o.backends[b] = len(o.backends)
			}
		}
		for _, w := range d.Workloads {
			if _, ok := o.workloads[w.Name]; !ok {
				o.workloads[w.Name] = len(o.workloads)
				o.units[w.Name] = w
			}
		}
	}
	return o
}

// BackendRank is a backend's place in display order; backends no file names share the last place.
func (o *Order) BackendRank(name string) int { return rank(o.backends, name) }

// WorkloadRank is a workload's place in display order; workloads no file names share the last place.
func (o *Order) WorkloadRank(name string) int { return rank(o.workloads, name) }

func rank(m map[string]int, name string) int {
	if r, ok := m[name]; ok {
		return r
	}
	return len(m)
}

// Op names one op of a workload ("read", "file", "request"); "op" when no file says.
func (o *Order) Op(workload string) string {
	if u := o.units[workload]; u.Op != "" {
		return u.Op
	}
	return "op"
}

// Rate is the unit of a workload's ops per second ("IOPS", "files/s", "req/s"); "ops/s" when no file says.
func (o *Order) Rate(workload string) string {
	if u := o.units[workload]; u.Rate != "" {
		return u.Rate
	}
	return "ops/s"
}

// Less orders backends by rank, then by name.
func (o *Order) Less(backendA, backendB string) bool {
	if ra, rb := o.BackendRank(backendA), o.BackendRank(backendB); ra != rb {
		return ra < rb
	}
	return backendA < backendB
}

// LessWorkload orders workloads by rank, then by name.
func (o *Order) LessWorkload(a, b string) bool {
	if ra, rb := o.WorkloadRank(a), o.WorkloadRank(b); ra != rb {
		return ra < rb
	}
	return a < b
}
