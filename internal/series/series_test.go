package series

import (
	"math"
	"reflect"
	"sort"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

func TestGroupKeepsFirstAppearanceAndFiles(t *testing.T) {
	a := []result.Sample{
		{Workload: "w", Backend: "uring", Params: map[string]string{"depth": "32"}, OpsPerSec: 1},
		{Workload: "w", Backend: "epoll", Params: map[string]string{"depth": "32"}, OpsPerSec: 2},
		{Workload: "w", Backend: "uring", Params: map[string]string{"depth": "32"}, OpsPerSec: 3},
	}
	b := []result.Sample{{Workload: "w", Backend: "uring", Params: map[string]string{"depth": "32"}, OpsPerSec: 5}}
	c := []result.Sample{{Workload: "w", Backend: "uring", Params: map[string]string{"depth": "32"}, OpsPerSec: 7}}
	ss := Group(Source{Set: "x", File: "a.json", Samples: a}, Source{Set: "x", File: "b.json", Samples: b},
		Source{Set: "y", File: "c.json", Samples: c})
	if len(ss) != 3 {
		t.Fatalf("%d series, want 3", len(ss))
	}
	if k := ss[0].Key(); k != (Key{"w", "uring", "depth=32", "x"}) || k.Name() != "w/uring/depth=32" {
		t.Errorf("first key %+v %q", k, k.Name())
	}
	if got := ss[0].Values(func(s *result.Sample) (float64, bool) { return s.OpsPerSec, true }); !reflect.DeepEqual(got, []float64{1, 3, 5}) {
		t.Errorf("values %v", got)
	}
	if !reflect.DeepEqual(ss[0].Files, []string{"a.json", "b.json"}) || ss[1].Backend != "epoll" || ss[2].Set != "y" {
		t.Errorf("files %v, order %s %s", ss[0].Files, ss[1].Backend, ss[2].Set)
	}
	if ss[0].Samples[0] != &a[0] {
		t.Error("series must point into the sources' samples")
	}
	if got := Samples(a[1:2])[0].Key().Name(); got != "w/epoll/depth=32" {
		t.Errorf("name %q", got)
	}
}

func TestMedianAndSpread(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{4, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.v); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("median of nothing must be NaN")
	}
	sp := NewSpread([]float64{5, 1, 4, 2, 3})
	if sp != (Spread{N: 5, Median: 3, Min: 1, Max: 5, Q1: 2, Q3: 4}) {
		t.Errorf("spread %+v", sp)
	}
	if q := Quantile([]float64{0, 10}, 0.25); q != 2.5 {
		t.Errorf("quantile %v", q)
	}
}

func TestOrderFromFiles(t *testing.T) {
	o := NewOrder(result.Display{Backends: []string{"epoll", "uring"}, Workloads: []result.WorkloadDisplay{{Name: "small-file", Op: "read", Rate: "IOPS"}}},
		result.Display{Backends: []string{"uring", "sqpoll"}})
	names := []string{"zzz", "sqpoll", "aaa", "uring", "epoll"}
	sort.Slice(names, func(i, j int) bool { return o.Less(names[i], names[j]) })
	if want := []string{"epoll", "uring", "sqpoll", "aaa", "zzz"}; !reflect.DeepEqual(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	if o.Op("small-file") != "read" || o.Rate("small-file") != "IOPS" || o.Op("other") != "op" || o.Rate("other") != "ops/s" {
		t.Error("op units")
	}
	if c := CompareParams(map[string]string{"conns": "9"}, map[string]string{"conns": "10"}); c >= 0 {
		t.Error("params compare numerically")
	}
}
