package chaos_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Kinds of job in the workload.
const (
	kindTest    = "test"    // test engine on a test-engine agent
	kindReal    = "real"    // the full real pipeline with pocketsphinx
	kindInvalid = "invalid" // a URL that does not exist: must fail, permanently
	kindLong    = "long"    // long media on test-engine agents: prepare, chunks, merge
)

// longChunkSeconds splits the long media into a few chunks.
const longChunkSeconds = 10

// Labels route each kind to the agents built for it.
var (
	labelsTest = map[string]string{"asr": "test"}
	labelsReal = map[string]string{"asr": "pocketsphinx"}
)

// jobRec is one submitted job as the workload knows it.
type jobRec struct {
	id, kind, phase string
	submitted       time.Time
	last            api.Job
	final           bool
}

// workload submits jobs at a steady pace with a bound on how many are
// unfinished, and follows each to its final state.
type workload struct {
	c                    *lbClient
	testURL, realURL     string
	longURL, missingURL  string
	every                time.Duration
	maxInflight          int
	invalidEvery, realEv int
	longEvery            int

	mu    sync.Mutex
	jobs  []*jobRec
	byID  map[string]*jobRec
	phase string
	// finishes are the finish times of succeeded jobs, in order seen.
	finishes []time.Time
	errs     []string
}

func (w *workload) setPhase(p string) {
	w.mu.Lock()
	w.phase = p
	w.mu.Unlock()
	w.c.setPhase(p)
}

func (w *workload) inflight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, j := range w.jobs {
		if !j.final {
			n++
		}
	}
	return n
}

// submitLoop submits until ctx ends.
func (w *workload) submitLoop(ctx context.Context) {
	for i := 0; ; i++ {
		for w.inflight() >= w.maxInflight {
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
		}
		kind, req := kindTest, api.JobRequest{URL: fmt.Sprintf("%s?n=%d", w.testURL, i), Language: "en", Cache: ptr(false), Labels: labelsTest}
		switch {
		case w.invalidEvery > 0 && i%w.invalidEvery == w.invalidEvery-1:
			kind, req.URL = kindInvalid, fmt.Sprintf("%s?n=%d", w.missingURL, i)
		case w.realEv > 0 && i%w.realEv == 2:
			kind, req.URL, req.Labels = kindReal, fmt.Sprintf("%s?n=%d", w.realURL, i), labelsReal
		case w.longEvery > 0 && i%w.longEvery == 4:
			kind, req.URL, req.ChunkSeconds = kindLong, fmt.Sprintf("%s?n=%d", w.longURL, i), ptr(float64(longChunkSeconds))
		}
		// One key per logical job: retries across replicas make one job.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		j, err := w.c.submit(sctx, req, uuid.NewString())
		cancel()
		w.mu.Lock()
		if err != nil {
			w.errs = append(w.errs, fmt.Sprintf("submit %d: %v", i, err))
		} else if w.byID[j.ID] != nil {
			w.errs = append(w.errs, fmt.Sprintf("submit %d: job id %s returned twice", i, j.ID))
		} else {
			r := &jobRec{id: j.ID, kind: kind, phase: w.phase, submitted: time.Now(), last: j}
			w.jobs = append(w.jobs, r)
			w.byID[j.ID] = r
		}
		w.mu.Unlock()
		if !sleepCtx(ctx, w.every) {
			return
		}
	}
}

// pollLoop follows unfinished jobs until ctx ends.
func (w *workload) pollLoop(ctx context.Context) {
	for sleepCtx(ctx, 500*time.Millisecond) {
		w.pollOnce(ctx)
	}
}

func (w *workload) pollOnce(ctx context.Context) {
	w.mu.Lock()
	var open []*jobRec
	for _, j := range w.jobs {
		if !j.final {
			open = append(open, j)
		}
	}
	w.mu.Unlock()
	for _, r := range open {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		j, err := w.c.job(gctx, r.id)
		cancel()
		if err != nil {
			continue // an outage: ask again next round
		}
		w.mu.Lock()
		r.last = j
		if j.Status.Final() {
			r.final = true
			if j.Status == api.JobSucceeded && j.FinishedAt != nil {
				w.finishes = append(w.finishes, *j.FinishedAt)
			}
		}
		w.mu.Unlock()
	}
}

// succeededAfter reports the earliest finish of a succeeded job after t.
func (w *workload) succeededAfter(t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var best time.Time
	for _, f := range w.finishes {
		if f.After(t) && (best.IsZero() || f.Before(best)) {
			best = f
		}
	}
	return best, !best.IsZero()
}

func (w *workload) succeeded() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.finishes)
}

func (w *workload) snapshot() []jobRec {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]jobRec, len(w.jobs))
	for i, j := range w.jobs {
		out[i] = *j
	}
	return out
}

func (w *workload) get(id string) (jobRec, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.byID[id]
	if !ok {
		return jobRec{}, false
	}
	return *r, true
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func ptr[T any](v T) *T { return &v }

// agentEvent is one of the runner's per-task log lines.
type agentEvent struct {
	msg, task, job, attempt string
	retryable               string
}

var (
	taskLine      = regexp.MustCompile(`msg="([^"]+)" task=(\S+) job=(\S+) attempt=(\d+)`)
	retryableAttr = regexp.MustCompile(`retryable=(\S+)`)
)

// agentEvents parses an agent's log; with current, only its latest run.
func agentEvents(log string, current bool) []agentEvent {
	if current {
		if i := strings.LastIndex(log, "#### "); i >= 0 && strings.Contains(log[i:], " start ") {
			log = log[i:]
		}
	}
	var out []agentEvent
	for _, line := range strings.Split(log, "\n") {
		m := taskLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		e := agentEvent{msg: m[1], task: m[2], job: m[3], attempt: m[4]}
		if r := retryableAttr.FindStringSubmatch(line); r != nil {
			e.retryable = r[1]
		}
		out = append(out, e)
	}
	return out
}

// Messages of the agent runner that end a task's run on that agent.
var taskEnds = map[string]bool{
	"task completed": true, "task failed": true, "handing task back": true,
	"task canceled by the control plane": true, "lease lost (rescued elsewhere); work dropped": true,
	"control plane no longer holds our lease; result dropped":                      true,
	"could not report task outcome; the lease will expire and the task be retried": true,
}

// Messages that show an agent learned its lease was gone.
var staleOutcomes = []string{
	"control plane no longer holds our lease; result dropped",
	"heartbeat refused: lease lost",
	"lease lost (rescued elsewhere); work dropped",
	"lease deadline passed without a heartbeat; stopping",
}

// running returns the tasks the agent's current run started and has not
// ended, sorted.
func running(log string) []agentEvent {
	open := map[string]agentEvent{}
	for _, e := range agentEvents(log, true) {
		switch {
		case e.msg == "task started":
			open[e.task+"/"+e.attempt] = e
		case taskEnds[e.msg]:
			delete(open, e.task+"/"+e.attempt)
		}
	}
	out := make([]agentEvent, 0, len(open))
	for _, e := range open {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].task < out[j].task })
	return out
}
