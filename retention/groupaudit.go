package retention

import (
	"context"

	"github.com/parley-mediation/parley/audit"
)

// groupAudit appends the audit entries of many records disposed of in
// parallel as a few batches (a group commit): each append of the log
// writes an entry and a signed checkpoint, so one at a time would make
// the log the bottleneck of a large apply. Its goroutine is owned by
// whoever calls newGroupAudit, and ends at close.
type groupAudit struct {
	log  *audit.Log
	reqs chan auditReq
	done chan struct{}
}

type auditReq struct {
	ev    audit.Event
	reply chan auditReply
}

type auditReply struct {
	idx int64
	err error
}

func newGroupAudit(ctx context.Context, log *audit.Log) *groupAudit {
	g := &groupAudit{log: log, reqs: make(chan auditReq), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		for r := range g.reqs {
			batch := []auditReq{r}
		more:
			for len(batch) < 64 {
				select {
				case r, ok := <-g.reqs:
					if !ok {
						break more
					}
					batch = append(batch, r)
				default:
					break more
				}
			}
			events := make([]audit.Event, len(batch))
			for i, r := range batch {
				events[i] = r.ev
			}
			idx, err := log.AppendBatch(ctx, events)
			for i, r := range batch {
				rep := auditReply{idx: -1, err: err}
				if err == nil && i < len(idx) {
					rep.idx = idx[i]
				}
				r.reply <- rep
			}
		}
	}()
	return g
}

// append appends ev with the next batch and returns its index.
func (g *groupAudit) append(ev audit.Event) (int64, error) {
	reply := make(chan auditReply, 1)
	g.reqs <- auditReq{ev: ev, reply: reply}
	r := <-reply
	return r.idx, r.err
}

// close ends the goroutine once every append has been answered.
func (g *groupAudit) close() {
	close(g.reqs)
	<-g.done
}
