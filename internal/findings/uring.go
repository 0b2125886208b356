package findings

import (
	"fmt"
	"strings"

	"github.com/ringbench/ringbench/internal/costmodel"
	"github.com/ringbench/ringbench/internal/series"
)

// batching is claim 3: the cost model fitted to io_uring's CPU per op against the batch size (package
// costmodel). c is (s + t), what one submission costs however many ops it carries, w each op's own cost.
func batching(d data) Finding {
	f := Finding{Anchor: AnchorCostModel}
	var m *costmodel.Model
	var tooFew *costmodel.Model
	models := costmodel.FromFiles(d.files...)
	for i := range models {
		mi := &models[i]
		if mi.Backend != "uring" || mi.Axis.Param != "batch" || mi.Constant {
			continue
		}
		if mi.Err != nil {
			if tooFew == nil {
				tooFew = mi
			}
			continue
		}
		m = mi
		break
	}
	if m == nil {
		f.Verdict = NotMeasured
		f.Why = "no io_uring batch sweep (run --backend uring,epoll --batch 1,2,4,8,16) of a file workload"
		if tooFew != nil {
			f.Why = fmt.Sprintf("the io_uring batch sweep of %s is too short to fit: %v", tooFew.Workload, tooFew.Err)
		}
		return f
	}
	fit := m.Fit
	first, last := m.Points[0], m.Points[len(m.Points)-1]
	y0, y1 := series.Median(first.Y), series.Median(last.Y)
	falls := y1 < y0
	cAbove := fit.CLo > 0
	figs := []string{fmt.Sprintf("uring %s CPU/op = w + c/n: c %s [%s, %s], w %s [%s, %s]", m.Workload,
		ns(fit.C), ns(fit.CLo), ns(fit.CHi), ns(fit.W), ns(fit.WLo), ns(fit.WHi))}
	if d.syscallNs > 0 {
		figs = append(figs, fmt.Sprintf("null syscall %s (c = %.1f syscalls)", ns(d.syscallNs), fit.C/d.syscallNs))
	}
	figs = append(figs, fmt.Sprintf("CPU/op %s at n=%g, %s at n=%g", ns(y0), first.N, ns(y1), last.N))
	if m.Versus != "" {
		if m.BreakOK {
			be := fmt.Sprintf("below %s's from batch %.0f", m.Versus, ceil(m.BreakEven))
			if m.LoOK && m.HiOK {
				be += fmt.Sprintf(" [%d, %d]", m.Lo, m.Hi)
			}
			figs = append(figs, be)
		} else {
			figs = append(figs, "never below "+m.Versus+"'s")
		}
	}
	whys := []string{
		either(cAbove, "c's 95% interval is above 0: each submission has a cost the batch shares",
			"c's 95% interval reaches 0: no cost shared by the batch was found"),
		either(falls, "CPU/op falls from the smallest batch to the largest",
			"CPU/op does not fall from the smallest batch to the largest"),
	}
	return f.judged(strings.Join(figs, "; "), []bool{cAbove, falls}, whys)
}

func ceil(v float64) float64 {
	n := float64(int64(v))
	if n < v {
		n++
	}
	return n
}

// sqpollPair is an SQPOLL series beside the plain io_uring series of the same workload and parameters.
type sqpollPair struct {
	sq, plain        *series.Series
	sqEnters, enters float64
}

// sqpoll is claim 4: io_uring_enter calls per op with SQPOLL against without, on each workload where both
// ran (the pair where plain io_uring enters most, where there is most to remove), and the poll thread's
// CPU.
func sqpoll(d data) Finding {
	f := Finding{}
	var pairs []sqpollPair // one per workload
	cores, coresOK := 0.0, false
	for _, sq := range d.find(func(s *series.Series) bool { return s.Backend == "sqpoll" }) {
		if c, ok := pollCores(sq); ok {
			cores, coresOK = max(cores, c), true
		}
		sqE, ok := median(sq, "enters/op")
		if !ok {
			continue
		}
		for _, u := range d.find(func(s *series.Series) bool {
			return s.Backend == "uring" && s.Workload == sq.Workload && agree(s.Params, sq.Params) && len(s.Params) == len(sq.Params)
		}) {
			uE, ok := median(u, "enters/op")
			if !ok {
				continue
			}
			p := sqpollPair{sq: sq, plain: u, sqEnters: sqE, enters: uE}
			replaced := false
			for i := range pairs {
				if pairs[i].sq.Workload == sq.Workload {
					if uE > pairs[i].enters {
						pairs[i] = p
					}
					replaced = true
				}
			}
			if !replaced {
				pairs = append(pairs, p)
			}
			break
		}
	}
	if len(pairs) == 0 {
		f.Verdict = NotMeasured
		f.Why = "no sqpoll series beside a uring series of the same workload and parameters, with io_uring_enter counted"
		return f
	}
	f.Anchor = anchorWorkload + pairs[0].sq.Workload
	var parts []bool
	var figs, whys []string
	for _, p := range pairs {
		ok := p.sqEnters <= SQPollEnterShare*p.enters
		parts = append(parts, ok)
		figs = append(figs, fmt.Sprintf("%s: sqpoll %s io_uring_enter/op vs uring %s", strings.TrimPrefix(name(p.plain), "uring "),
			perOp(p.sqEnters), perOp(p.enters)))
		if !ok {
			whys = append(whys, fmt.Sprintf("on %s SQPOLL kept %s of the enters: the loop still enters to wait for completions",
				p.sq.Workload, pct(p.sqEnters/max(p.enters, 1e-9))))
		}
	}
	if coresOK {
		ok := cores >= BurnCores
		parts = append(parts, ok)
		figs = append(figs, fmt.Sprintf("poll thread busy %.2f of a CPU", cores))
		if !ok {
			whys = append(whys, fmt.Sprintf("the poll thread used under %g of a CPU", BurnCores))
		}
	}
	f.Figure = strings.Join(figs, "; ")
	f.Verdict = verdictOf(parts...)
	if f.Verdict == Holds {
		whys = append(whys, fmt.Sprintf("SQPOLL's enters are at most %s of uring's on every workload, and its thread is busy at least %g of a CPU",
			pct(SQPollEnterShare), BurnCores))
	}
	f.Why = strings.Join(whys, "; ")
	return f
}
