package job

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Every state change of a job follows one shape: the store loads the job's
// State under the job's lock, one of State's methods decides, and the store
// writes the Change it returns in the same transaction. The methods update
// the State as written, so several changes of one job in one transaction
// follow each other.

// State is what a decision about one job reads.
type State struct {
	Job       Job
	Tasks     []Task     // in creation order
	Last      *Event     // the job's last event; nil before the first
	Endpoints []Endpoint // the tenant's webhook endpoints
	CacheKey  string     // "" when the job's result is not cacheable
	// Traceparent is the W3C trace context of the submission, the parent of
	// each lease's span; no decision reads it.
	Traceparent string

	graph graphChange // the graph change a report is making
}

// Change is what a decision writes: the changed tasks, the job re-derived
// from its tasks, and what the change of the job causes.
type Change struct {
	Job Job
	// Tasks are the changed tasks, Added the tasks a graph gained (to
	// insert) and Removed the ids of tasks it lost (to delete).
	Tasks      []Task
	Added      []Task
	Removed    []string
	Event      *Event // nil when status, stage and progress are unchanged
	Deliveries []Delivery
	// CacheKey, when set, records the job's result in the tenant's cache
	// under this key: the job just succeeded with a result of its own.
	CacheKey string
	// Stats is what the change adds to the statistics rollup.
	Stats StatsDelta
}

// Event is one change of a job's status, stage or progress.
type Event struct {
	JobID    string
	Seq      int64 // from 1, without gaps
	Status   Status
	Stage    string
	Progress float64
	Job      Job // the job after the change
	At       time.Time
}

// Endpoint is a tenant's webhook target.
type Endpoint struct {
	ID     string
	URL    string
	Events []string // none: the final events
}

// Delivery is a webhook event to send to one target; it is due at At.
type Delivery struct {
	ID         string
	Tenant     string
	EndpointID string // "" for the job's own webhook_url
	EventID    string
	EventType  string
	JobID      string
	URL        string
	Payload    []byte // the exact body, signed at each attempt
	At         time.Time
}

// New is the state of a new job: its tasks completed from the job and
// the job's aggregate fields derived from them.
func New(j Job, tasks []Task) State {
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	st := State{Tasks: make([]Task, len(tasks))}
	for i, t := range tasks {
		t.JobID = j.ID
		if t.Tenant == "" {
			t.Tenant = j.Tenant
		}
		if t.State == "" {
			t.State = TaskQueued
		}
		if t.CreatedAt.IsZero() {
			t.CreatedAt = j.CreatedAt
		}
		if t.UpdatedAt.IsZero() {
			t.UpdatedAt = t.CreatedAt
		}
		if t.RunAt.IsZero() {
			t.RunAt = t.CreatedAt
		}
		st.Tasks[i] = t
	}
	st.Job = settle(j, st.Tasks, j.UpdatedAt)
	return st
}

// CreateNeedsEndpoints reports whether Create's change depends on
// s.Endpoints: only a job born finished (answered from the cache) has a
// first event that webhooks are sent (planEvent); a queued job's goes
// nowhere.
func (s *State) CreateNeedsEndpoints() bool { return s.Job.Status.Final() }

// Create is the change that records the new job of New: its tasks, the
// job, and its first event with the deliveries it causes to s.Endpoints.
func (s *State) Create() (Change, error) {
	ch, err := s.apply(nil, s.Job.UpdatedAt)
	ch.Tasks, ch.Added = nil, slices.Clone(s.Tasks)
	return ch, err
}

// apply records changed tasks in the state and returns the change: those
// tasks, the waiting tasks whose parents have now all succeeded (queued in
// the same change), the siblings a final failure abandons, the job settled
// from its tasks, its next event with the deliveries it causes, and the
// cache entry of a job that just succeeded.
func (s *State) apply(changed []Task, now time.Time) (Change, error) {
	return s.applyGraph(graphChange{changed: changed}, now)
}

// graphChange is a change of tasks that may add and remove tasks.
type graphChange struct {
	changed, added []Task
	removed        []string
}

func (s *State) applyGraph(g graphChange, now time.Time) (Change, error) {
	old, isNew := s.Job, s.Last == nil
	oldTasks := make(map[string]Task, len(s.Tasks))
	for _, t := range s.Tasks {
		oldTasks[t.ID] = t
	}
	if len(g.removed) > 0 {
		gone := func(t Task) bool { return slices.Contains(g.removed, t.ID) }
		s.Tasks = slices.DeleteFunc(s.Tasks, gone)
		// A task both reported and dropped (the chunk found gone) is only
		// deleted: the change must not write a row it deletes.
		g.changed = slices.DeleteFunc(slices.Clone(g.changed), gone)
	}
	for _, c := range g.changed {
		for i := range s.Tasks {
			if s.Tasks[i].ID == c.ID {
				s.Tasks[i] = c
			}
		}
	}
	s.Tasks = append(s.Tasks, g.added...)
	// Tasks queued or abandoned below are written as changed, unless they
	// are being added anyway.
	added := make([]Task, 0, len(g.added))
	changed := slices.Clone(g.changed)
	for _, t := range append(unblock(s.Tasks, now), abandonSiblings(s.Tasks, now)...) {
		changed = upsert(changed, t)
	}
	for _, a := range g.added {
		i := slices.IndexFunc(changed, func(c Task) bool { return c.ID == a.ID })
		if i >= 0 {
			a = changed[i]
			changed = slices.Delete(changed, i, i+1)
		}
		added = append(added, a)
	}
	ch := Change{Tasks: changed, Added: added, Removed: g.removed}
	s.Job = settle(s.Job, s.Tasks, now)
	ch.Job = s.Job
	ch.Stats = statsOf(old, oldTasks, isNew, s.Job, s.Tasks, changed, now)
	if err := s.planEvent(&ch, now); err != nil {
		return Change{}, err
	}
	return ch, nil
}

// planEvent adds to ch the job's next event, when status, stage or progress
// changed since the last one, the webhook deliveries it causes, and the
// cache entry of a job that just succeeded.
func (s *State) planEvent(ch *Change, now time.Time) error {
	j, prev := s.Job, s.Last
	if prev != nil && prev.Status == j.Status && prev.Stage == j.Stage && prev.Progress == j.Progress {
		return nil
	}
	seq := int64(1)
	if prev != nil {
		seq = prev.Seq + 1
	}
	ch.Event = &Event{JobID: j.ID, Seq: seq, Status: j.Status, Stage: j.Stage, Progress: j.Progress, Job: j, At: now}
	s.Last = ch.Event
	statusChanged := prev == nil || prev.Status != j.Status
	if statusChanged && j.Status == api.JobSucceeded && cacheWorthy(j) {
		ch.CacheKey = s.resultCacheKey()
	}

	eventType := ""
	if statusChanged {
		eventType = finalEventType(j.Status)
	}
	if eventType == "" && prev != nil && !j.Status.Final() {
		eventType = api.EventJobProgress
	}
	if eventType == "" {
		return nil
	}
	eventID := fmt.Sprintf("evt_%s_%d", j.ID, seq)
	var targets []Endpoint
	// A job's own webhook_url gets the final events only.
	if j.Spec.WebhookURL != "" && eventType != api.EventJobProgress {
		targets = append(targets, Endpoint{URL: j.Spec.WebhookURL})
	}
	for _, e := range s.Endpoints {
		if subscribes(e.Events, eventType) {
			targets = append(targets, e)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	ev := api.WebhookEvent{ID: eventID, Type: eventType, CreatedAt: now.UTC()}
	ev.Data.Job = j.ToAPI()
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode webhook event %s: %w", eventID, err)
	}
	for _, e := range targets {
		ch.Deliveries = append(ch.Deliveries, Delivery{
			ID: deliveryID(eventID, e), Tenant: j.Tenant, EndpointID: e.ID, EventID: eventID, EventType: eventType,
			JobID: j.ID, URL: e.URL, Payload: body, At: now,
		})
	}
	return nil
}

// upsert replaces the task with t's id in ts, or appends t.
func upsert(ts []Task, t Task) []Task {
	for i := range ts {
		if ts[i].ID == t.ID {
			ts[i] = t
			return ts
		}
	}
	return append(ts, t)
}

// cacheWorthy reports whether a succeeded job's result may be cached: it
// has a transcript of its own (one served from the cache is not cached
// again).
// resultCacheKey keys a job's fresh result in the cache: by what identified
// the bytes an agent fetched from a URL naming a media file, when it
// reported that, else by the key made at submission.
func (s *State) resultCacheKey() string {
	if s.Job.Spec.URL == "" {
		return s.CacheKey
	}
	for _, t := range s.Tasks {
		if t.Result == nil || t.Result.SourceValidator == "" {
			continue
		}
		if src := URLSource(s.Job.Spec.URL, t.Result.SourceValidator); src != "" {
			return CacheKey(src, s.Job.Spec)
		}
	}
	return s.CacheKey
}

func cacheWorthy(j Job) bool {
	return j.ResultKey != "" && (j.Result == nil || !j.Result.Cached)
}

// deliveryID names the delivery of one event to one target. It is derived
// rather than random so that planning stays a pure function; event ids are
// unique, and so are a job's targets.
func deliveryID(eventID string, e Endpoint) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + e.ID + "\x00" + e.URL))
	return "whd_" + hex.EncodeToString(sum[:12])
}

// subscribes reports whether an endpoint with these events wants eventType;
// no events means the final ones.
func subscribes(events []string, eventType string) bool {
	if len(events) == 0 {
		return eventType == api.EventJobSucceeded || eventType == api.EventJobFailed || eventType == api.EventJobCanceled
	}
	for _, e := range events {
		if e == eventType {
			return true
		}
	}
	return false
}

// finalEventType is the webhook event for a final job status ("" otherwise).
func finalEventType(s Status) string {
	switch s {
	case api.JobSucceeded:
		return api.EventJobSucceeded
	case api.JobFailed:
		return api.EventJobFailed
	case api.JobCanceled:
		return api.EventJobCanceled
	}
	return ""
}
