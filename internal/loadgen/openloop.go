package loadgen

// The open-loop schedule: each connection's next request has a due time, and a heap (container/heap)
// orders connections by it.

import (
	"container/heap"
	"time"
)

// issueDue sends every open-loop request whose time has come, on connections with room in the pipeline.
func (l *loop) issueDue(now int64) {
	for len(l.heap) > 0 {
		c := l.heap[0]
		if c.nextDue > now {
			return
		}
		if c.issued-c.completed >= l.pipeline {
			heap.Pop(&l.heap) // back in when a request completes
			continue
		}
		if now-c.nextDue > int64(time.Millisecond) {
			l.late++
		}
		l.issue(c, c.nextDue, now)
		c.seq++
		c.nextDue = l.sched.due(l.t0, l.cfg.Rate, c.idx, c.seq)
		heap.Fix(&l.heap, 0)
		l.flush(c)
		if l.err != nil {
			return
		}
	}
}

// dueHeap orders open-loop connections by the due time of their next request; gconn.heapIdx is each one's
// position, -1 when not in the heap.
type dueHeap []*gconn

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].nextDue < h[j].nextDue }

func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}

func (h *dueHeap) Push(x any) {
	c := x.(*gconn)
	c.heapIdx = len(*h)
	*h = append(*h, c)
}

func (h *dueHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	c.heapIdx = -1
	*h = old[:len(old)-1]
	return c
}

// schedule places one thread's active connections in the generator's whole open-loop schedule: the
// thread's connection i is the generator's connection first+i of all. Every thread keeps the total rate
// and the same start, so together the threads send exactly the one-thread schedule, each its connections'
// share of it.
type schedule struct{ first, all int }

// orAll is s, or, when unset, the schedule of one thread with all the active connections.
func (s schedule) orAll(active int) schedule {
	if s.all == 0 {
		return schedule{first: 0, all: active}
	}
	return s
}

// due is when connection idx's request seq (from 0) is due: t0 + (seq*all + first+idx) / rate.
func (s schedule) due(t0 int64, rate float64, idx int32, seq int64) int64 {
	return t0 + int64((float64(seq)*float64(s.all)+float64(s.first+int(idx)))*1e9/rate)
}
