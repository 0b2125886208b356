package workloads_test

import (
	"reflect"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
)

// The display result files record comes from the registries: backends and workloads in their display
// order, and what one op of each workload is.
func TestDisplayFromRegistries(t *testing.T) {
	d := workloads.Display()
	if want := []string{"epoll", "uring", "sqpoll", "gostd"}; !reflect.DeepEqual(d.Backends, want) {
		t.Errorf("backends %q, want %q", d.Backends, want)
	}
	want := []result.WorkloadDisplay{
		{Name: "small-file", Op: "read", Rate: "IOPS"},
		{Name: "many-file", Op: "file", Rate: "files/s"},
		{Name: "echo-proxy", Op: "request", Rate: "req/s"},
	}
	if !reflect.DeepEqual(d.Workloads, want) {
		t.Errorf("workloads %+v, want %+v", d.Workloads, want)
	}
}
