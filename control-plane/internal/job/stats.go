package job

import (
	"math"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// The statistics rollup: every change of a job says what it adds to its
// tenant's counters, so the store can keep small per-minute sums in the same
// transaction instead of scanning jobs when statistics are read.

// StatsDelta is what one change of a job adds to the statistics.
type StatsDelta struct {
	Tenant string
	At     time.Time // the minute the change counts in
	// From is the job's status before the change ("" for a new job), To
	// after it; a submission is From == "", a finish To final and From not.
	From, To Status
	// QueueWait is set at the job's first lease ever: from its creation.
	QueueWait *time.Duration
	// Processing is set when the job reaches a final status after running:
	// from the earliest start among its tasks' leases (each task's last
	// attempt: an earlier failed attempt is not counted) to its end.
	Processing *time.Duration
	// AudioSeconds and RunSeconds are the media duration and processing
	// time of a job that succeeded with a transcript of its own (the
	// real-time factor is their ratio).
	AudioSeconds, RunSeconds float64
	// Agents are the leases the change ended, by agent.
	Agents []AgentDelta
	// ErrorCode is the job's error code when the change fails it (counted
	// in the top error codes).
	ErrorCode string
}

// AgentDelta counts the leases of one agent a change ended: succeeded, or
// failed (for good or to be retried, including an expired lease).
type AgentDelta struct {
	AgentID           string
	Succeeded, Failed int
}

// Empty reports whether the delta adds nothing.
func (d StatsDelta) Empty() bool {
	return d.From == d.To && d.QueueWait == nil && d.Processing == nil && len(d.Agents) == 0
}

// statsOf is what a change adds: old and oldTasks are the job and its
// tasks before it (new: no earlier event), j and tasks after it.
func statsOf(old Job, oldTasks map[string]Task, isNew bool, j Job, tasks []Task, changed []Task, now time.Time) StatsDelta {
	d := StatsDelta{Tenant: j.Tenant, At: now, From: old.Status, To: j.Status}
	if isNew {
		d.From = ""
	}
	first, startedBefore := time.Time{}, false
	for _, t := range tasks {
		if t.StartedAt.IsZero() {
			continue
		}
		if first.IsZero() || t.StartedAt.Before(first) {
			first = t.StartedAt
		}
		if o, ok := oldTasks[t.ID]; ok && !o.StartedAt.IsZero() {
			startedBefore = true
		}
	}
	if !first.IsZero() && !startedBefore && !isNew {
		w := max(first.Sub(j.CreatedAt), 0)
		d.QueueWait = &w
	}
	if j.Status.Final() && (isNew || !old.Status.Final()) && !first.IsZero() {
		end := now
		if j.FinishedAt != nil {
			end = *j.FinishedAt
		}
		p := max(end.Sub(first), 0)
		d.Processing = &p
		if j.Status == api.JobSucceeded && j.Result != nil && !j.Result.Cached && j.Result.Duration > 0 {
			d.AudioSeconds, d.RunSeconds = j.Result.Duration, p.Seconds()
		}
	}
	if j.Status == api.JobFailed && (isNew || !old.Status.Final()) {
		// A failed job always carries its error; the fallback keeps the
		// count whole if one ever does not.
		d.ErrorCode = api.CodeInternal
		if j.Error != nil && j.Error.Code != "" {
			d.ErrorCode = j.Error.Code
		}
	}
	for _, t := range changed {
		o, ok := oldTasks[t.ID]
		if !ok || o.State != TaskLeased || o.AgentID == "" || t.State == TaskLeased {
			continue
		}
		var a AgentDelta
		switch {
		case t.State == TaskSucceeded:
			a = AgentDelta{AgentID: o.AgentID, Succeeded: 1}
		case t.State != TaskCanceled && t.LastError != nil:
			a = AgentDelta{AgentID: o.AgentID, Failed: 1}
		default:
			continue // handed back or canceled
		}
		d.Agents = addAgent(d.Agents, a)
	}
	return d
}

func addAgent(as []AgentDelta, a AgentDelta) []AgentDelta {
	for i := range as {
		if as[i].AgentID == a.AgentID {
			as[i].Succeeded += a.Succeeded
			as[i].Failed += a.Failed
			return as
		}
	}
	return append(as, a)
}

// OfflineAfter is how long an agent may stay silent before it no longer
// counts as online.
const OfflineAfter = 2 * time.Minute

// AgentLoad is what the fleet figures need of one agent.
type AgentLoad struct {
	Slots, ActiveTasks int
	LastSeen           time.Time
	Revoked            bool
}

// FleetLoad is the fleet at one moment: the agents not revoked, those of
// them online (seen within OfflineAfter, draining or not), and the tasks the
// online agents hold and the slots they offer.
type FleetLoad struct {
	Agents, Online int
	Busy, Slots    int
}

// Fleet sums the load of agents at now.
func Fleet(agents []AgentLoad, now time.Time) FleetLoad {
	var f FleetLoad
	for _, a := range agents {
		if a.Revoked {
			continue
		}
		f.Agents++
		if now.Sub(a.LastSeen) > OfflineAfter {
			continue
		}
		f.Online++
		f.Busy += a.ActiveTasks
		f.Slots += a.Slots
	}
	return f
}

// HistBins is the number of bins of a duration histogram. Bin i < HistBins-1
// holds durations up to HistEdge(i) (and above the previous edge); the last
// bin holds the rest. Edges double from 100 ms, so the last finite edge is
// about 7.3 h and an estimate is off by at most a factor of two.
const HistBins = 20

// HistEdge is the upper edge of bin i in seconds (the last bin's is twice
// the one before, a stand-in for its unbounded top).
func HistEdge(i int) float64 { return 0.1 * math.Pow(2, float64(i)) }

// HistBin is the bin of a duration.
func HistBin(d time.Duration) int {
	s := d.Seconds()
	for i := range HistBins - 1 {
		if s <= HistEdge(i) {
			return i
		}
	}
	return HistBins - 1
}

// HistQuantile estimates the q-quantile (0 < q ≤ 1) in seconds of the
// durations counted in h, interpolating within the bin it falls in; 0 for
// an empty histogram.
func HistQuantile(h []int64, q float64) float64 {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	var cum float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = HistEdge(i - 1)
			}
			return lo + (HistEdge(i)-lo)*(rank-cum)/float64(c)
		}
		cum += float64(c)
	}
	return HistEdge(len(h) - 1)
}
