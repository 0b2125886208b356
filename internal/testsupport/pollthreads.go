package testsupport

import (
	"os"
	"strings"
	"testing"
	"time"
)

// PollThreads counts this process's SQPOLL kernel threads (iou-sqp-PID).
func PollThreads(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		comm, err := os.ReadFile("/proc/self/task/" + e.Name() + "/comm")
		if err == nil && strings.HasPrefix(string(comm), "iou-sqp-") {
			n++
		}
	}
	return n
}

// SettlePollThreads polls PollThreads until it returns want (a poll thread takes its iou-sqp name when it
// first runs, and leaves /proc a little after its last ring closes), and returns the last count.
func SettlePollThreads(tb testing.TB, want int) int {
	tb.Helper()
	n := PollThreads(tb)
	for deadline := time.Now().Add(2 * time.Second); n != want && time.Now().Before(deadline); n = PollThreads(tb) {
		time.Sleep(5 * time.Millisecond)
	}
	return n
}
