package store

import (
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// Records: the JSON stored in the backends' JSON columns. They are not the
// wire or domain types, so renaming a field of the API (or of job) never
// changes what an existing row means; a record's keys change only with a
// migration of the rows that hold them. Their keys are those that were
// written before the records existed, so every existing row reads unchanged.
//
// Webhook payloads (webhook_deliveries.payload) are not records: they are
// the exact signed body receivers get, wire by design.

// specRecord is jobs.spec.
type specRecord struct {
	URL        string            `json:"url,omitempty"`
	UploadKey  string            `json:"upload_key,omitempty"`
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
	// Absent from the specs of jobs submitted before chunking: they never split.
	ChunkSeconds float64 `json:"chunk_seconds,omitempty"`
}

func specRecordOf(s job.Spec) specRecord {
	return specRecord{URL: s.URL, UploadKey: s.UploadKey, Filename: s.Filename, Size: s.Size, Language: s.Language,
		Task: s.Task, Model: s.Model, Priority: s.Priority, Captions: s.Captions, Cache: s.Cache,
		WebhookURL: s.WebhookURL, Metadata: s.Metadata, Labels: s.Labels, ChunkSeconds: s.ChunkSeconds}
}

func (r specRecord) spec() job.Spec {
	return job.Spec{URL: r.URL, UploadKey: r.UploadKey, Filename: r.Filename, Size: r.Size, Language: r.Language,
		Task: r.Task, Model: r.Model, Priority: r.Priority, Captions: r.Captions, Cache: r.Cache,
		WebhookURL: r.WebhookURL, Metadata: r.Metadata, Labels: r.Labels, ChunkSeconds: r.ChunkSeconds}
}

// requirementsRecord is tasks.requires. The lease queries of both backends
// read its "engine" and "labels" keys.
type requirementsRecord struct {
	Engine string            `json:"engine,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

func requirementsRecordOf(r job.Requirements) requirementsRecord {
	return requirementsRecord{Engine: r.Engine, Labels: r.Labels}
}

func (r requirementsRecord) requirements() job.Requirements {
	return job.Requirements{Engine: r.Engine, Labels: r.Labels}
}

// chunkRecord is tasks.chunk: the span a transcribe task recognizes.
type chunkRecord struct {
	Index int     `json:"index"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Key   string  `json:"key"`
}

func chunkRecordOf(c job.Chunk) chunkRecord {
	return chunkRecord{Index: c.Index, Start: c.Start, End: c.End, Key: c.Key}
}

func (r chunkRecord) chunk() job.Chunk {
	return job.Chunk{Index: r.Index, Start: r.Start, End: r.End, Key: r.Key}
}

// runRecord is one element of tasks.runs: an attempt at the task.
type runRecord struct {
	Attempt   int               `json:"attempt"`
	Token     int64             `json:"token"`
	AgentID   string            `json:"agent_id"`
	StartedAt time.Time         `json:"started_at"`
	EndedAt   *time.Time        `json:"ended_at,omitempty"`
	Outcome   string            `json:"outcome"`
	Error     *errorRecord      `json:"error,omitempty"`
	Stages    []stageMarkRecord `json:"stages,omitempty"`
}

type stageMarkRecord struct {
	Stage string    `json:"stage"`
	At    time.Time `json:"at"`
}

// runRecordOf keeps times to the microsecond, as the backends' time
// columns do, so a run's start reads back equal to the task's started_at.
func runRecordOf(r job.Run) runRecord {
	us := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
	out := runRecord{Attempt: r.Attempt, Token: r.Token, AgentID: r.AgentID, StartedAt: us(r.StartedAt),
		Outcome: string(r.Outcome), Error: mapPtr(r.Error, errorRecordOf)}
	if !r.EndedAt.IsZero() {
		out.EndedAt = new(us(r.EndedAt))
	}
	for _, m := range r.Stages {
		out.Stages = append(out.Stages, stageMarkRecord{Stage: m.Stage, At: us(m.At)})
	}
	return out
}

func (r runRecord) run() job.Run {
	out := job.Run{Attempt: r.Attempt, Token: r.Token, AgentID: r.AgentID, StartedAt: r.StartedAt.UTC(),
		Outcome: job.Outcome(r.Outcome), Error: mapPtr(r.Error, errorRecord.error)}
	if r.EndedAt != nil {
		out.EndedAt = r.EndedAt.UTC()
	}
	for _, m := range r.Stages {
		out.Stages = append(out.Stages, job.StageMark{Stage: m.Stage, At: m.At.UTC()})
	}
	return out
}

// errorRecord is jobs.error and tasks.last_error.
type errorRecord struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorRecordOf(e api.Error) errorRecord { return errorRecord{Code: e.Code, Message: e.Message} }

func (r errorRecord) error() api.Error { return api.Error{Code: r.Code, Message: r.Message} }

// resultRecord is the description of a transcript, part of every result
// column.
type resultRecord struct {
	Language string             `json:"language,omitempty"`
	Duration float64            `json:"duration"`
	Engine   string             `json:"engine,omitempty"`
	Model    string             `json:"model,omitempty"`
	Title    string             `json:"title,omitempty"`
	Origin   string             `json:"origin,omitempty"`
	Segments int                `json:"segments"`
	Words    int                `json:"words"`
	Timings  map[string]float64 `json:"timings,omitempty"`
	Streamed bool               `json:"streamed,omitempty"`
	// SourceValidator keys the result cache when the job succeeds.
	SourceValidator string `json:"source_validator,omitempty"`
}

func resultRecordOf(r api.Result) resultRecord {
	return resultRecord{Language: r.Language, Duration: r.Duration, Engine: r.Engine, Model: r.Model,
		Title: r.Title, Origin: r.Origin, Segments: r.Segments, Words: r.Words, Timings: r.Timings,
		Streamed: r.Streamed, SourceValidator: r.SourceValidator}
}

func (r resultRecord) result() api.Result {
	return api.Result{Language: r.Language, Duration: r.Duration, Engine: r.Engine, Model: r.Model,
		Title: r.Title, Origin: r.Origin, Segments: r.Segments, Words: r.Words, Timings: r.Timings,
		Streamed: r.Streamed, SourceValidator: r.SourceValidator}
}

// jobResultRecord is jobs.result and the result in a job event.
type jobResultRecord struct {
	Cached bool `json:"cached"`
	resultRecord
}

func jobResultRecordOf(r api.JobResult) jobResultRecord {
	return jobResultRecord{Cached: r.Cached, resultRecord: resultRecordOf(r.Result)}
}

func (r jobResultRecord) jobResult() api.JobResult {
	return api.JobResult{Cached: r.Cached, Result: r.result()}
}

// taskResultRecord is tasks.result and result_cache.result.
type taskResultRecord struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	resultRecord
	// Chunks is a prepare task's split audio.
	Chunks []preparedChunkRecord `json:"chunks,omitempty"`
	// Media is the playback copy a caption or prepare task reported.
	Media *mediaRecord `json:"media,omitempty"`
}

type mediaRecord struct {
	Key         string       `json:"key,omitempty"`
	Size        int64        `json:"size,omitempty"`
	SHA256      string       `json:"sha256,omitempty"`
	ContentType string       `json:"content_type,omitempty"`
	Error       *errorRecord `json:"error,omitempty"`
}

func mediaRecordOf(m *api.MediaReport) *mediaRecord {
	if m == nil {
		return nil
	}
	r := &mediaRecord{Key: m.Key, Size: m.Size, SHA256: m.SHA256, ContentType: m.ContentType}
	if m.Error != nil {
		e := errorRecordOf(*m.Error)
		r.Error = &e
	}
	return r
}

func (r *mediaRecord) report() *api.MediaReport {
	if r == nil {
		return nil
	}
	m := &api.MediaReport{Key: r.Key, Size: r.Size, SHA256: r.SHA256, ContentType: r.ContentType}
	if r.Error != nil {
		e := r.Error.error()
		m.Error = &e
	}
	return m
}

type preparedChunkRecord struct {
	Index  int     `json:"index"`
	Start  float64 `json:"start"`
	End    float64 `json:"end"`
	Key    string  `json:"key"`
	Size   int64   `json:"size"`
	SHA256 string  `json:"sha256"`
}

func taskResultRecordOf(r api.TaskResult) taskResultRecord {
	out := taskResultRecord{Key: r.Key, Size: r.Size, SHA256: r.SHA256, resultRecord: resultRecordOf(r.Result),
		Media: mediaRecordOf(r.Media)}
	for _, c := range r.Chunks {
		out.Chunks = append(out.Chunks, preparedChunkRecord{Index: c.Index, Start: c.Start, End: c.End,
			Key: c.Key, Size: c.Size, SHA256: c.SHA256})
	}
	return out
}

func (r taskResultRecord) taskResult() api.TaskResult {
	out := api.TaskResult{Key: r.Key, Size: r.Size, SHA256: r.SHA256, Result: r.result(), Media: r.Media.report()}
	for _, c := range r.Chunks {
		out.Chunks = append(out.Chunks, api.PreparedChunk{Chunk: api.Chunk{Index: c.Index, Start: c.Start, End: c.End},
			Key: c.Key, Size: c.Size, SHA256: c.SHA256})
	}
	return out
}

// capabilitiesRecord is agents.capabilities.
type capabilitiesRecord struct {
	Engines   []engineRecord    `json:"engines"`
	Languages []string          `json:"languages,omitempty"`
	GPUs      []gpuRecord       `json:"gpus,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Slots     int               `json:"slots"`
	Kinds     []string          `json:"kinds,omitempty"`
	Artifacts []heldRecord      `json:"artifacts,omitempty"`
}

type heldRecord struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

type engineRecord struct {
	Name   string   `json:"name"`
	Models []string `json:"models,omitempty"`
}

type gpuRecord struct {
	Name          string `json:"name"`
	MemoryMB      int    `json:"memory_mb"`
	UUID          string `json:"uuid,omitempty"`
	DriverVersion string `json:"driver_version,omitempty"`
}

func capabilitiesRecordOf(c api.Capabilities) capabilitiesRecord {
	r := capabilitiesRecord{Languages: c.Languages, Labels: c.Labels, Slots: c.Slots, Kinds: c.Kinds}
	for _, e := range c.Engines {
		r.Engines = append(r.Engines, engineRecord{Name: e.Name, Models: e.Models})
	}
	for _, g := range c.GPUs {
		r.GPUs = append(r.GPUs, gpuRecord(g))
	}
	for _, a := range c.Artifacts {
		r.Artifacts = append(r.Artifacts, heldRecord{Kind: a.Kind, Name: a.Name, Version: a.Version, SHA256: a.SHA256})
	}
	return r
}

func (r capabilitiesRecord) capabilities() api.Capabilities {
	c := api.Capabilities{Languages: r.Languages, Labels: r.Labels, Slots: r.Slots, Kinds: r.Kinds}
	for _, e := range r.Engines {
		c.Engines = append(c.Engines, api.EngineCapability{Name: e.Name, Models: e.Models})
	}
	for _, g := range r.GPUs {
		c.GPUs = append(c.GPUs, api.GPU(g))
	}
	for _, a := range r.Artifacts {
		c.Artifacts = append(c.Artifacts, api.HeldArtifact{Kind: a.Kind, Name: a.Name, Version: a.Version, SHA256: a.SHA256})
	}
	return c
}

// eventRecord is job_events.data: the job as it was after the change.
type eventRecord struct {
	ID         string           `json:"id"`
	Tenant     string           `json:"tenant"`
	Status     string           `json:"status"`
	Stage      string           `json:"stage,omitempty"`
	Progress   float64          `json:"progress"`
	Source     sourceRecord     `json:"source"`
	Language   string           `json:"language"`
	Task       string           `json:"task"`
	Model      string           `json:"model,omitempty"`
	Priority   int              `json:"priority"`
	Captions   string           `json:"captions"`
	Cache      bool             `json:"cache"`
	WebhookURL string           `json:"webhook_url,omitempty"`
	Metadata   map[string]any   `json:"metadata,omitempty"`
	Attempts   int              `json:"attempts"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	FinishedAt *time.Time       `json:"finished_at"`
	Error      *errorRecord     `json:"error,omitempty"`
	Result     *jobResultRecord `json:"result,omitempty"`
	// Absent from the events of jobs before chunking.
	ChunkSeconds float64             `json:"chunk_seconds,omitempty"`
	Chunks       *chunkSummaryRecord `json:"chunks,omitempty"`
}

type chunkSummaryRecord struct {
	Total int `json:"total"`
	Done  int `json:"done"`
}

func chunkSummaryRecordOf(c api.ChunkSummary) chunkSummaryRecord {
	return chunkSummaryRecord{Total: c.Total, Done: c.Done}
}

func (r chunkSummaryRecord) summary() api.ChunkSummary {
	return api.ChunkSummary{Total: r.Total, Done: r.Done}
}

type sourceRecord struct {
	URL      string `json:"url,omitempty"`
	Filename string `json:"filename,omitempty"`
	Size     int64  `json:"size,omitempty"`
}

func eventRecordOf(j api.Job) eventRecord {
	return eventRecord{ID: j.ID, Tenant: j.Tenant, Status: string(j.Status), Stage: j.Stage, Progress: j.Progress,
		Source:   sourceRecord{URL: j.Source.URL, Filename: j.Source.Filename, Size: j.Source.Size},
		Language: j.Language, Task: j.Task, Model: j.Model, Priority: j.Priority, Captions: j.Captions, Cache: j.Cache,
		WebhookURL: j.WebhookURL, Metadata: j.Metadata, Attempts: j.Attempts, CreatedAt: j.CreatedAt,
		UpdatedAt: j.UpdatedAt, FinishedAt: j.FinishedAt, Error: mapPtr(j.Error, errorRecordOf),
		Result: mapPtr(j.Result, jobResultRecordOf), ChunkSeconds: j.ChunkSeconds,
		Chunks: mapPtr(j.Chunks, chunkSummaryRecordOf)}
}

func (r eventRecord) job() api.Job {
	return api.Job{ID: r.ID, Tenant: r.Tenant, Status: api.JobStatus(r.Status), Stage: r.Stage, Progress: r.Progress,
		Source:   api.Source{URL: r.Source.URL, Filename: r.Source.Filename, Size: r.Source.Size},
		Language: r.Language, Task: r.Task, Model: r.Model, Priority: r.Priority, Captions: r.Captions, Cache: r.Cache,
		WebhookURL: r.WebhookURL, Metadata: r.Metadata, Attempts: r.Attempts, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt, Error: mapPtr(r.Error, errorRecord.error),
		Result: mapPtr(r.Result, jobResultRecord.jobResult), ChunkSeconds: r.ChunkSeconds,
		Chunks: mapPtr(r.Chunks, chunkSummaryRecord.summary)}
}

// Column codecs: XArg encodes a column's value as a query argument (a nil
// pointer is SQL NULL); DecodeX reads it back into *p (SQL NULL leaves a
// value as it is, and makes a pointer nil).

// SpecArg encodes jobs.spec.
func SpecArg(s *job.Spec) (any, error) { return encode(s, specRecordOf) }

// DecodeSpec decodes jobs.spec.
func DecodeSpec(b []byte, p *job.Spec) error { return decode(b, p, specRecord.spec) }

// RequiresArg encodes tasks.requires.
func RequiresArg(r *job.Requirements) (any, error) { return encode(r, requirementsRecordOf) }

// DecodeRequires decodes tasks.requires.
func DecodeRequires(b []byte, p *job.Requirements) error {
	return decode(b, p, requirementsRecord.requirements)
}

// ParentsArg encodes tasks.parents: a JSON array of task ids, [] for none
// (the column is never NULL).
func ParentsArg(ids []string) (any, error) {
	if ids == nil {
		ids = []string{}
	}
	return JSONArg(&ids)
}

// DecodeParents decodes tasks.parents; an empty array is no parents (nil),
// as the domain plans them.
func DecodeParents(b []byte, p *[]string) error {
	var ids []string
	if err := DecodeJSON(b, &ids); err != nil {
		return err
	}
	if len(ids) == 0 {
		ids = nil
	}
	*p = ids
	return nil
}

// RunsArg encodes tasks.runs: a JSON array of runs, [] for none (the
// column is never NULL).
func RunsArg(runs []job.Run) (any, error) {
	rs := make([]runRecord, len(runs))
	for i, r := range runs {
		rs[i] = runRecordOf(r)
	}
	return JSONArg(&rs)
}

// DecodeRuns decodes tasks.runs; an empty array is no runs (nil).
func DecodeRuns(b []byte, p *[]job.Run) error {
	var rs []runRecord
	if err := DecodeJSON(b, &rs); err != nil {
		return err
	}
	var runs []job.Run
	for _, r := range rs {
		runs = append(runs, r.run())
	}
	*p = runs
	return nil
}

// ChunkArg encodes tasks.chunk.
func ChunkArg(c *job.Chunk) (any, error) { return encode(c, chunkRecordOf) }

// DecodeChunk decodes tasks.chunk.
func DecodeChunk(b []byte, p **job.Chunk) error { return decodePtr(b, p, chunkRecord.chunk) }

// ErrorArg encodes jobs.error or tasks.last_error.
func ErrorArg(e *api.Error) (any, error) { return encode(e, errorRecordOf) }

// DecodeError decodes jobs.error or tasks.last_error.
func DecodeError(b []byte, p **api.Error) error { return decodePtr(b, p, errorRecord.error) }

// JobResultArg encodes jobs.result.
func JobResultArg(r *api.JobResult) (any, error) { return encode(r, jobResultRecordOf) }

// DecodeJobResult decodes jobs.result.
func DecodeJobResult(b []byte, p **api.JobResult) error {
	return decodePtr(b, p, jobResultRecord.jobResult)
}

// TaskResultArg encodes tasks.result.
func TaskResultArg(r *api.TaskResult) (any, error) { return encode(r, taskResultRecordOf) }

// DecodeTaskResult decodes tasks.result.
func DecodeTaskResult(b []byte, p **api.TaskResult) error {
	return decodePtr(b, p, taskResultRecord.taskResult)
}

// CachedResultArg encodes result_cache.result for a job that succeeded: the
// result it reports, with the blob key of its transcript.
func CachedResultArg(j job.Job) (any, error) {
	r := api.TaskResult{Key: j.ResultKey}
	if j.Result != nil {
		r.Result = j.Result.Result
	}
	return encode(&r, taskResultRecordOf)
}

// DecodeCachedResult decodes result_cache.result.
func DecodeCachedResult(b []byte, p *api.Result) error {
	return decode(b, p, func(r taskResultRecord) api.Result { return r.result() })
}

// CapabilitiesArg encodes agents.capabilities.
func CapabilitiesArg(c *api.Capabilities) (any, error) { return encode(c, capabilitiesRecordOf) }

// DecodeCapabilities decodes agents.capabilities.
func DecodeCapabilities(b []byte, p *api.Capabilities) error {
	return decode(b, p, capabilitiesRecord.capabilities)
}

// EventArg encodes job_events.data.
func EventArg(j *api.Job) (any, error) { return encode(j, eventRecordOf) }

// DecodeEvent decodes job_events.data.
func DecodeEvent(b []byte, p *api.Job) error { return decode(b, p, eventRecord.job) }

// encode maps v to its record and encodes that.
func encode[T, R any](v *T, record func(T) R) (any, error) {
	if v == nil {
		return nil, nil
	}
	return JSONArg(new(record(*v)))
}

// decode decodes a record and maps it to *p.
func decode[T, R any](b []byte, p *T, from func(R) T) error {
	if len(b) == 0 {
		return nil
	}
	var r R
	if err := DecodeJSON(b, &r); err != nil {
		return err
	}
	*p = from(r)
	return nil
}

// decodePtr is decode for a nullable column.
func decodePtr[T, R any](b []byte, p **T, from func(R) T) error {
	if len(b) == 0 || string(b) == "null" {
		*p = nil
		return nil
	}
	v := new(T)
	if err := decode(b, v, from); err != nil {
		return err
	}
	*p = v
	return nil
}

// mapPtr maps an optional value.
func mapPtr[T, R any](v *T, f func(T) R) *R {
	if v == nil {
		return nil
	}
	return new(f(*v))
}
