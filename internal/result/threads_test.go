package result

import (
	"encoding/json"
	"strings"
	"testing"
)

// Per-thread figures survive a round trip; a one-thread sample writes no threads field, so files stay as
// they were.
func TestThreadsRoundTrip(t *testing.T) {
	s := Sample{Backend: "epoll", Workload: "small-file", Ops: 30,
		Threads: []Thread{{TID: 10, Seconds: 1, Ops: 10, OpsPerSec: 10, P99: 5}, {TID: 11, Seconds: 1, Ops: 20, OpsPerSec: 20, P99: 7}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Sample
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Threads) != 2 || back.Threads[1] != s.Threads[1] {
		t.Errorf("threads %+v after a round trip of %s", back.Threads, b)
	}
	if lo, hi, ok := ThreadSpread(back); !ok || lo != 10 || hi != 20 {
		t.Errorf("spread %v-%v %v", lo, hi, ok)
	}
	one, _ := json.Marshal(Sample{Backend: "epoll"})
	if strings.Contains(string(one), "threads") {
		t.Errorf("a one-thread sample writes threads: %s", one)
	}
	if _, _, ok := ThreadSpread(Sample{}); ok {
		t.Error("spread of a one-thread sample")
	}
}
