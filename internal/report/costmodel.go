package report

import (
	"github.com/ringbench/ringbench/internal/costmodel"
	"github.com/ringbench/ringbench/internal/result"
)

// costModelBlocks are the cost-model tables of the report's "Cost model" section: the batch and conns
// sweeps of each set fitted on their own (internal/costmodel), with the set named in the title when there
// are several. Separate files of one set at one batch size each make one sweep.
func costModelBlocks(r *Report) []costmodel.Block {
	var out []costmodel.Block
	for _, set := range r.Sets {
		var files []*result.File
		for _, in := range r.Inputs {
			if in.Set == set {
				files = append(files, in.File)
			}
		}
		if len(files) == 0 {
			continue
		}
		env := files[0].Env
		env.SyscallNs = costmodel.SyscallNs(files...)
		for _, b := range costmodel.Blocks(costmodel.FromFiles(files...), env) {
			if r.MultiSet() {
				b.Title = set + " · " + b.Title
			}
			out = append(out, b)
		}
	}
	return out
}
