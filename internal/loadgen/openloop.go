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
		c.nextDue = l.t0 + int64((float64(c.seq)*float64(l.active)+float64(c.idx))*1e9/l.cfg.Rate)
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
