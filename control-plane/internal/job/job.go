// Package job is the domain of jobs and tasks: their states, the rules for
// moving between them, request validation and defaults, the retry schedule,
// and every decision the store's operations make: how a job settles from
// its tasks, the event a change records, the webhooks it plans and when a
// result is cached. It is pure (no I/O, no clock): the store loads a job's
// State inside a transaction, a State method decides, and the store writes
// the Change it returns; the tests drive the decisions as tables.
package job

import (
	"slices"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Status is a job's state; it is the wire status.
type Status = api.JobStatus

// TaskState is the state of one task.
type TaskState string

// Task states. A queued task is leasable once RunAt has passed; a waiting
// task becomes queued when all its parents have succeeded.
const (
	TaskWaiting   TaskState = "waiting"
	TaskQueued    TaskState = "queued"
	TaskLeased    TaskState = "leased"
	TaskSucceeded TaskState = "succeeded"
	TaskFailed    TaskState = "failed"
	TaskCanceled  TaskState = "canceled"
)

// Final reports whether the task is done for good (until a job retry).
func (s TaskState) Final() bool {
	return s == TaskSucceeded || s == TaskFailed || s == TaskCanceled
}

// Task kinds (see api.KindCaption and its siblings).
const (
	// KindCaption runs the whole pipeline (resolve, captions-first, download,
	// extract, transcribe) and produces the canonical transcript.
	KindCaption = api.KindCaption
	// KindPrepare runs the pipeline up to the audio; it either finishes the
	// job like caption (existing captions, short media) or splits the audio
	// into chunks, which expands the job's graph.
	KindPrepare = api.KindPrepare
	// KindTranscribe recognizes one chunk.
	KindTranscribe = api.KindTranscribe
	// KindMerge stitches the chunks' transcripts into the job's result.
	KindMerge = api.KindMerge
)

// Job is a user's request and its aggregate state.
type Job struct {
	ID             string
	Tenant         string
	Status         Status
	Stage          string
	Progress       float64
	Spec           Spec
	IdempotencyKey string
	RequestHash    string // of the normalized request, to detect key reuse with another body
	Attempts       int    // total task attempts started
	Error          *api.Error
	Result         *api.JobResult
	ResultKey      string // blob key of the canonical transcript
	// ChunksTotal and ChunksDone count the transcribe tasks of a split job
	// and those that succeeded.
	ChunksTotal int
	ChunksDone  int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

// Spec is the normalized, validated request.
type Spec struct {
	URL        string            `json:"url,omitempty"`
	UploadKey  string            `json:"upload_key,omitempty"` // blob key of an uploaded file
	Filename   string            `json:"filename,omitempty"`
	Size       int64             `json:"size,omitempty"`
	Language   string            `json:"language"`
	Task       string            `json:"task"`
	Model      string            `json:"model,omitempty"`
	Priority   int               `json:"priority"`
	Captions   string            `json:"captions"`
	Cache      bool              `json:"cache"`
	WebhookURL string            `json:"webhook_url,omitempty"`
	Metadata   map[string]any    `json:"metadata,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// ChunkSeconds is the chunk length long media is split into (0: never).
	ChunkSeconds float64 `json:"chunk_seconds,omitempty"`
}

// Task is one unit of work that an agent leases.
type Task struct {
	ID       string
	JobID    string
	Tenant   string
	Kind     string
	State    TaskState
	Priority int
	Requires Requirements
	// Parents must all succeed before the task is queued (it waits till then).
	Parents []string
	// Chunk is the span a transcribe task recognizes.
	Chunk       *Chunk
	Attempt     int // attempts started (leases that were not handed back)
	MaxAttempts int
	RunAt       time.Time // leasable from
	// Lease fields, meaningful while State == TaskLeased (and kept after, so a
	// late call with the last token can be told apart from a forged one).
	Token         int64 // fencing token: changes on every lease
	AgentID       string
	LeaseDeadline time.Time
	StartedAt     time.Time // of the current lease
	Stage         string
	Progress      float64
	LastError     *api.Error
	Result        *api.TaskResult
	// Runs are the task's attempts, oldest first (runs.go).
	Runs      []Run
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Chunk is a span of the media and where its audio is stored.
type Chunk struct {
	Index      int
	Start, End float64 // seconds
	Key        string  // blob key of the chunk's WAV
}

// Requirements are what an agent must offer to lease a task.
type Requirements struct {
	Engine string            `json:"engine,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// SatisfiedBy reports whether an agent with caps can run a task of this kind.
func (r Requirements) SatisfiedBy(kind string, caps api.Capabilities) bool {
	if len(caps.Kinds) > 0 && !contains(caps.Kinds, kind) {
		return false
	}
	if r.Engine != "" {
		ok := false
		for _, e := range caps.Engines {
			if e.Name == r.Engine {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for k, v := range r.Labels {
		if caps.Labels[k] != v {
			return false
		}
	}
	return true
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Plan is a job's first task: caption when the job never splits, else
// prepare, which may expand the graph when it completes (see Expand).
func Plan(j Job, newID func() string, maxAttempts int) []Task {
	kind := KindCaption
	if j.Spec.ChunkSeconds > 0 {
		kind = KindPrepare
	}
	return []Task{{
		ID:          newID(),
		JobID:       j.ID,
		Tenant:      j.Tenant,
		Kind:        kind,
		State:       TaskQueued,
		Priority:    j.Spec.Priority,
		Requires:    Requirements{Labels: j.Spec.Labels},
		MaxAttempts: maxAttempts,
		RunAt:       j.CreatedAt,
		CreatedAt:   j.CreatedAt,
		UpdatedAt:   j.CreatedAt,
	}}
}

// AnswerFromCache makes a planned job the answer an earlier run left in the
// result cache: every task is born succeeded with that run's result, so none
// is ever leased, and the job reports the result as cached.
func AnswerFromCache(j Job, tasks []Task, resultKey string, res api.Result) (Job, []Task) {
	out := slices.Clone(tasks)
	for i := range out {
		r := api.TaskResult{Key: resultKey, Result: res}
		out[i].State, out[i].Result, out[i].Progress = TaskSucceeded, &r, 1
	}
	j.ResultKey = resultKey
	j.Result = &api.JobResult{Cached: true, Result: res}
	j.Stage = "cache"
	return j, out
}

// Aggregate derives a job's status from its tasks' states; waiting tasks
// count as queued.
func Aggregate(tasks []Task) Status {
	if len(tasks) == 0 {
		return api.JobQueued
	}
	var succeeded, failed, canceled, leased int
	for _, t := range tasks {
		switch t.State {
		case TaskSucceeded:
			succeeded++
		case TaskFailed:
			failed++
		case TaskCanceled:
			canceled++
		case TaskLeased:
			leased++
		}
	}
	switch {
	case failed > 0:
		return api.JobFailed
	case canceled > 0:
		return api.JobCanceled
	case succeeded == len(tasks):
		return api.JobSucceeded
	case leased > 0 || succeeded > 0:
		return api.JobRunning
	default:
		return api.JobQueued
	}
}
