// Package api is the ytcaption wire protocol: the JSON types of the public job
// API and of the agent protocol, the route paths, the stable error codes, and a
// Go client for both. It imports only the standard library, so agents and
// third-party programs can depend on it without pulling in the control plane.
package api

import "time"

// JobStatus is the externally visible state of a job.
type JobStatus string

// Job statuses. Succeeded, failed and canceled are final.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
	JobCanceled  JobStatus = "canceled"
)

// Final reports whether no further transition is possible without a retry.
func (s JobStatus) Final() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCanceled
}

// Caption source preferences for JobRequest.Captions.
const (
	CaptionsPreferExisting = "prefer-existing"
	CaptionsASROnly        = "asr-only"
)

// Task values for JobRequest.Task.
const (
	TaskTranscribe = "transcribe"
	TaskTranslate  = "translate"
)

// JobRequest is the body of POST /v1/jobs (or the non-file fields of its
// multipart form). Zero values take the documented defaults.
type JobRequest struct {
	URL        string            `json:"url,omitempty"`
	Language   string            `json:"language,omitempty"` // "auto" (default) or a language code
	Task       string            `json:"task,omitempty"`     // "transcribe" (default) or "translate"
	Model      string            `json:"model,omitempty"`
	Priority   *int              `json:"priority,omitempty"` // 0..9, default 5; higher runs first
	Captions   string            `json:"captions,omitempty"` // "prefer-existing" (default) or "asr-only"
	Cache      *bool             `json:"cache,omitempty"`    // default true
	WebhookURL string            `json:"webhook_url,omitempty"`
	Metadata   map[string]any    `json:"metadata,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"` // agent labels the work requires
	// ChunkSeconds splits long media at silences into chunks of about this
	// many seconds, transcribed in parallel across agents; 0 never splits.
	// Default DefaultChunkSeconds.
	ChunkSeconds *float64 `json:"chunk_seconds,omitempty"`
}

// DefaultChunkSeconds is a job's chunk length when the request names none.
const DefaultChunkSeconds = 120

// Job is a captioning job as returned by the API.
type Job struct {
	ID         string         `json:"id"`
	Tenant     string         `json:"tenant"`
	Status     JobStatus      `json:"status"`
	Stage      string         `json:"stage,omitempty"`
	Progress   float64        `json:"progress"`
	Source     Source         `json:"source"`
	Language   string         `json:"language"`
	Task       string         `json:"task"`
	Model      string         `json:"model,omitempty"`
	Priority   int            `json:"priority"`
	Captions   string         `json:"captions"`
	Cache      bool           `json:"cache"`
	WebhookURL string         `json:"webhook_url,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Attempts   int            `json:"attempts"`
	// ChunkSeconds is the requested chunk length (0: never split).
	ChunkSeconds float64 `json:"chunk_seconds"`
	// Chunks summarizes a job split into chunks; absent while it is not.
	Chunks     *ChunkSummary `json:"chunks,omitempty"`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	FinishedAt *time.Time    `json:"finished_at"`
	Error      *Error        `json:"error,omitempty"`
	Result     *JobResult    `json:"result,omitempty"`
}

// ChunkSummary counts a split job's chunks and those transcribed.
type ChunkSummary struct {
	Total int `json:"total"`
	Done  int `json:"done"`
}

// Task kinds. A job is one caption task, or a graph: prepare, then one
// transcribe task per chunk, then merge.
const (
	KindCaption    = "caption"    // the whole pipeline on one agent
	KindPrepare    = "prepare"    // resolve, captions, download, extract, split
	KindTranscribe = "transcribe" // speech recognition of one chunk
	KindMerge      = "merge"      // stitch the chunks' transcripts
)

// Chunk is a span of a job's media, in seconds.
type Chunk struct {
	Index int     `json:"index"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// TaskInfo is one task of a job as GET /v1/jobs/{id}/tasks shows it.
type TaskInfo struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"` // waiting, queued, leased, succeeded, failed, canceled
	AgentID    string     `json:"agent_id,omitempty"`
	Attempts   int        `json:"attempts"`
	Chunk      *Chunk     `json:"chunk,omitempty"` // transcribe tasks
	Stage      string     `json:"stage,omitempty"`
	Progress   float64    `json:"progress"`
	StartedAt  *time.Time `json:"started_at,omitempty"`  // of the current attempt
	FinishedAt *time.Time `json:"finished_at,omitempty"` // when final
	Error      *Error     `json:"error,omitempty"`
	// Runs are the task's attempts, oldest first: the last 20 leases.
	Runs []TaskRun `json:"runs"`
}

// TaskRun is one attempt at a task: a lease by one agent, the stages it
// reported, and how it ended.
type TaskRun struct {
	Attempt   int        `json:"attempt"` // the task's attempt number (a released lease does not count)
	AgentID   string     `json:"agent_id"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"` // absent while running
	Outcome   RunOutcome `json:"outcome"`
	Error     *Error     `json:"error,omitempty"` // failed, retried, expired, canceled
	// Stages are when each stage was first reported (the last 16).
	Stages []StageMark `json:"stages"`
}

// StageMark is when a run's agent reported a new stage.
type StageMark struct {
	Stage string    `json:"stage"`
	At    time.Time `json:"at"`
}

// RunOutcome is how a task's run ended.
type RunOutcome string

// Run outcomes.
const (
	RunRunning   RunOutcome = "running"   // the lease is held
	RunSucceeded RunOutcome = "succeeded" // the agent completed the task
	RunRetried   RunOutcome = "retried"   // the agent failed; the task was queued for another attempt
	RunFailed    RunOutcome = "failed"    // the agent failed and the task failed with it
	RunExpired   RunOutcome = "expired"   // no heartbeat before the lease's deadline; the task was retried, or failed when out of attempts
	RunReleased  RunOutcome = "released"  // handed back unfinished (agent shutdown or revoked)
	RunCanceled  RunOutcome = "canceled"  // the job was canceled, or another task of it failed
)

// TaskList is the body of GET /v1/jobs/{id}/tasks, in planning order.
type TaskList struct {
	Tasks []TaskInfo `json:"tasks"`
}

// Source says where a job's media comes from: a URL or an upload.
type Source struct {
	URL      string `json:"url,omitempty"`
	Filename string `json:"filename,omitempty"` // uploads only
	Size     int64  `json:"size,omitempty"`     // uploads only, bytes
}

// Result describes a finished transcript: what the agent reports, the store
// keeps and the API shows. The transcript itself is served by
// GET /v1/jobs/{id}/captions.
type Result struct {
	Language string             `json:"language,omitempty"`
	Duration float64            `json:"duration"` // seconds of media
	Engine   string             `json:"engine,omitempty"`
	Model    string             `json:"model,omitempty"`
	Title    string             `json:"title,omitempty"`
	Origin   string             `json:"origin,omitempty"` // "asr" or "captions" (existing caption track)
	Segments int                `json:"segments"`
	Words    int                `json:"words"`
	Timings  map[string]float64 `json:"timings,omitempty"` // stage -> seconds
	// Streamed: the audio went into the recognizer as it was decoded, so
	// the extract and transcribe timings overlap (both began together).
	Streamed bool `json:"streamed,omitempty"`
	// SourceValidator identifies the bytes a URL naming a media file served
	// the agent (its ETag, or Last-Modified with Content-Length): the
	// result cache keys a fresh run of such a URL by it.
	SourceValidator string `json:"source_validator,omitempty"`
}

// JobResult summarizes a succeeded job.
type JobResult struct {
	Cached bool `json:"cached"` // served from the result cache
	Result
}

// JobList is the body of GET /v1/jobs.
type JobList struct {
	Jobs       []Job  `json:"jobs"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Transcript is the canonical transcript (captions format "json"). Every other
// caption format is rendered from it.
type Transcript struct {
	Language string         `json:"language"`
	Duration float64        `json:"duration"`
	Text     string         `json:"text"`
	Segments []Segment      `json:"segments"`
	Engine   EngineInfo     `json:"engine"`
	Extra    map[string]any `json:"extra,omitempty"`
}

// Segment is a span of speech, usually a sentence or phrase.
type Segment struct {
	Start float64 `json:"start"` // seconds
	End   float64 `json:"end"`
	Text  string  `json:"text"`
	Words []Word  `json:"words,omitempty"`
}

// Word is one recognized word with its timing.
type Word struct {
	Word       string  `json:"word"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float64 `json:"confidence"`
}

// EngineInfo names what produced a transcript.
type EngineInfo struct {
	Name    string `json:"name"`
	Model   string `json:"model,omitempty"`
	Version string `json:"version,omitempty"`
	Origin  string `json:"origin,omitempty"` // "asr" or "captions"
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string            `json:"status"` // "ok" or "unavailable"
	Checks map[string]string `json:"checks,omitempty"`
}
