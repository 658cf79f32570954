package api

import (
	"fmt"
	"strings"
	"time"
)

// The agent protocol.
//
// Agents never accept connections; every exchange is a request from the agent
// to the control plane, authenticated with "Authorization: Bearer <token>".
// Seen from one agent, the protocol is this state machine:
//
//	          enrollment token
//	[new] ──POST /v1/agent/register──▶ [registered]  (agent token + expires_at)
//	                                        │
//	           ┌────────────────────────────┘
//	           │   meanwhile, alongside everything below, once half the agent
//	           │   token's lifetime has passed (with jitter): POST /v1/agent/renew
//	           │   → new token + expires_at; the old one works for RenewGrace more
//	           ▼
//	[idle] ──POST /v1/agent/lease (long-poll, ≤ wait_seconds)──▶ 0..max leases
//	  ▲  │                                                         │
//	  │  └── reply.drain=true: stop leasing, finish what is held ──┤
//	  │                                                            ▼
//	  │                                             [holding lease L, token T]
//	  │        POST /v1/agent/tasks/{id}/heartbeat {token:T, stage, progress}
//	  │           every HeartbeatInterval: extends the deadline;
//	  │           reply.cancel=true: stop the work, then release
//	  │                                                            │
//	  │        POST /v1/agent/tasks/{id}/uploads {token:T, count:K}
//	  │           (prepare) K presigned PUTs for the chunks it split
//	  ├──── POST /v1/agent/tasks/{id}/complete {token:T, result} ◀─┤ (after PUT to L.Upload.URL)
//	  │        + next:{max} where the server announced FeatureCompleteNext:
//	  │          0..max more leases in the reply, held as above
//	  ├──── POST /v1/agent/tasks/{id}/fail     {token:T, error}  ◀─┤
//	  └──── POST /v1/agent/tasks/{id}/release  {token:T}         ◀─┘ (hand back: shutdown, cancel)
//
// The token T is a fencing token: it changes every time the task is leased.
//
// Agent tokens are short-lived (24 h by default, set on the server). A
// renewal invalidates the token it was called with, except that the server
// still accepts it for RenewGrace afterwards, so calls sent just before the
// agent switched to the new token succeed; a renewal whose reply was lost may
// be retried with the old token within that grace. An agent that lets its
// token expire gets 401 and must enroll again.
// Errors an agent can get, and what it must do:
//
//   - 401 unauthorized / agent_revoked: the agent credential is unknown, expired or
//     revoked, or (with client-certificate auth on the server) the connection
//     carried no verified client certificate. Stop leasing, abandon held work
//     (it has been requeued), re-register with an enrollment token if one is
//     configured, else exit. On renew, 401 means the same.
//   - 409 stale_lease on heartbeat/complete/fail/release: the lease expired and the
//     task was rescued (or the job was canceled). Stop the work at once, delete its
//     temporary files, and do not retry the call: the result is not wanted.
//   - 404 not_found on a task call: the job was deleted; same as stale_lease.
//   - 400 invalid_request: a bug in the agent; log it, fail the task if possible.
//   - 429 rate_limited / 503 unavailable / 5xx / network errors: transient. Retry
//     with exponential backoff and jitter. Keep working on held leases while
//     retrying heartbeats; if the lease deadline passes without a successful
//     heartbeat, assume the task was rescued and stop it.
//   - Lease long-poll returning zero tasks is normal: poll again at once.
//
// Task kinds (Lease.Kind) and what each does:
//
//   - caption: the whole pipeline; upload the transcript to Lease.Upload.
//   - prepare: resolve, existing captions, download, extract. A caption hit,
//     or media shorter than two chunks (Spec.ChunkSeconds; 0 never splits)
//     on an agent with the transcribe role, is transcribed in place and
//     completed like caption. Otherwise the audio is split at silences, each
//     chunk PUT to a URL from the uploads call, and the task completed with
//     result.chunks (no transcript): the control plane then queues one
//     transcribe task per chunk and a merge task after them.
//   - transcribe: fetch Spec.ChunkURL (the chunk Spec.Chunk), recognize it,
//     and upload a transcript whose times are of the whole media (the
//     chunk's start added).
//   - merge: fetch Spec.Parts in order, stitch them into one transcript and
//     upload it; that is the job's result.
//
// An agent's roles decide the kinds it asks for (Capabilities.Kinds; see
// KindsForRoles).
//
// Results are uploaded with an HTTP PUT to Lease.Upload.URL (a presigned URL:
// the agent never holds storage credentials) before calling complete. Uploaded
// media (jobs created from a file) is read from Lease.Spec.SourceURL.

// Agent protocol routes.
const (
	PathAgentRegister = "/v1/agent/register"
	PathAgentRenew    = "/v1/agent/renew"
	PathAgentLease    = "/v1/agent/lease"
	// PathAgentTask is followed by "/{task id}/{heartbeat|uploads|complete|fail|release}".
	PathAgentTask = "/v1/agent/tasks"
)

// Capabilities is what an agent can run. Tasks are only leased to agents whose
// capabilities meet the task's requirements.
type Capabilities struct {
	Engines   []EngineCapability `json:"engines"`
	Languages []string           `json:"languages,omitempty"` // empty: any
	GPUs      []GPU              `json:"gpus,omitempty"`
	Labels    map[string]string  `json:"labels,omitempty"`
	Slots     int                `json:"slots"`           // concurrent tasks
	Kinds     []string           `json:"kinds,omitempty"` // task kinds; empty: all
	// Artifacts are the pushed models and tools the agent holds in its
	// cache (see PathAgentArtifacts).
	Artifacts []HeldArtifact `json:"artifacts,omitempty"`
}

// HeldArtifact is one pushed artifact an agent holds.
type HeldArtifact struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// Agent roles: what kinds of task an agent runs.
const (
	RolePrepare    = "prepare"    // resolve, captions, download, extract, split
	RoleTranscribe = "transcribe" // speech recognition
)

// KindsForRoles is the task kinds an agent with roles runs: merge runs on
// either role, caption (the whole pipeline) needs both.
func KindsForRoles(roles []string) []string {
	var prep, tr bool
	for _, r := range roles {
		prep = prep || r == RolePrepare
		tr = tr || r == RoleTranscribe
	}
	var kinds []string
	if prep && tr {
		kinds = append(kinds, KindCaption)
	}
	if prep {
		kinds = append(kinds, KindPrepare)
	}
	if tr {
		kinds = append(kinds, KindTranscribe)
	}
	if prep || tr {
		kinds = append(kinds, KindMerge)
	}
	return kinds
}

// ParseRoles parses an agent's --roles list ("prepare,transcribe").
func ParseRoles(s string) ([]string, error) {
	var roles []string
	for _, r := range strings.Split(s, ",") {
		switch r = strings.TrimSpace(r); r {
		case RolePrepare, RoleTranscribe:
			roles = append(roles, r)
		case "":
		default:
			return nil, fmt.Errorf("role %q: want %s or %s", r, RolePrepare, RoleTranscribe)
		}
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("roles: at least one of %s, %s", RolePrepare, RoleTranscribe)
	}
	return roles, nil
}

// EngineCapability is one speech recognition engine and the models it has.
type EngineCapability struct {
	Name   string   `json:"name"`
	Models []string `json:"models,omitempty"`
}

// GPU describes one accelerator found on the agent's machine.
type GPU struct {
	Name     string `json:"name"`
	MemoryMB int    `json:"memory_mb"` // 0: unknown
	// UUID tells identical models apart and stays the same across reboots.
	UUID          string `json:"uuid,omitempty"`
	DriverVersion string `json:"driver_version,omitempty"`
}

// RegisterRequest is the body of POST /v1/agent/register.
type RegisterRequest struct {
	EnrollmentToken string       `json:"enrollment_token"`
	Name            string       `json:"name"`
	Hostname        string       `json:"hostname,omitempty"`
	Version         string       `json:"version,omitempty"`
	Capabilities    Capabilities `json:"capabilities"`
}

// RegisterResponse carries the agent's own credential.
type RegisterResponse struct {
	AgentID          string    `json:"agent_id"`
	Token            string    `json:"token"`
	ExpiresAt        time.Time `json:"expires_at,omitzero"`
	LeaseSeconds     float64   `json:"lease_seconds"`
	HeartbeatSeconds float64   `json:"heartbeat_seconds"`
	MaxLeaseWaitSecs float64   `json:"max_lease_wait_seconds"`
}

// RenewGrace is how long the server keeps accepting an agent token after
// it was renewed.
const RenewGrace = 60 * time.Second

// RenewResponse is the reply to POST /v1/agent/renew (no request body): the
// agent's next token, which replaces the one the call was made with.
type RenewResponse struct {
	AgentID   string    `json:"agent_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LeaseRequest is the body of POST /v1/agent/lease.
type LeaseRequest struct {
	Max         int     `json:"max"`          // tasks wanted, ≥ 1
	WaitSeconds float64 `json:"wait_seconds"` // long-poll hold, capped by the server (~30 s)
	// Capabilities, when set, replaces the ones given at registration.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
}

// LeaseResponse is the reply to a lease request.
type LeaseResponse struct {
	Tasks []Lease `json:"tasks"`
	Drain bool    `json:"drain,omitempty"` // the agent is draining: lease nothing more
	// Features are the optional protocol features this server accepts
	// (Feature*). An agent uses one only after a lease reply announced it,
	// so a newer agent keeps working against an older server, whose strict
	// decoding would refuse the fields it does not know.
	Features []string `json:"features,omitempty"`
}

// FeatureCompleteNext: a completion may ask for the next tasks
// (CompleteRequest.Next), saving the agent a lease call per task.
const FeatureCompleteNext = "complete_next"

// Lease is one leased task.
type Lease struct {
	TaskID   string    `json:"task_id"`
	JobID    string    `json:"job_id"`
	Kind     string    `json:"kind"`
	Attempt  int       `json:"attempt"`
	Token    int64     `json:"token"` // fencing token; send it back on every task call
	Deadline time.Time `json:"deadline"`
	Spec     TaskSpec  `json:"spec"`
	Upload   Presigned `json:"upload"` // where the result goes
	// Traceparent is the W3C trace context of this lease's span in the
	// job's trace (under its submission), so the agent's spans join the
	// trace that began at the API.
	Traceparent string `json:"traceparent,omitempty"`
}

// TaskSpec is what the agent must do.
type TaskSpec struct {
	URL          string            `json:"url,omitempty"`
	SourceURL    string            `json:"source_url,omitempty"` // presigned GET of an uploaded file
	Filename     string            `json:"filename,omitempty"`
	Language     string            `json:"language"`
	Task         string            `json:"task"`
	Model        string            `json:"model,omitempty"`
	Captions     string            `json:"captions"`
	MaxDuration  float64           `json:"max_duration_seconds,omitempty"`
	MaxBytes     int64             `json:"max_bytes,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	AllowPrivate bool              `json:"allow_private_sources,omitempty"`
	// ChunkSeconds (prepare) is the chunk length to split at; 0 never splits.
	ChunkSeconds float64 `json:"chunk_seconds,omitempty"`
	// Chunk and ChunkURL (transcribe): the span and a presigned GET of its
	// 16 kHz mono WAV.
	Chunk    *Chunk `json:"chunk,omitempty"`
	ChunkURL string `json:"chunk_url,omitempty"`
	// Parts (merge): the chunks' transcripts, in chunk order.
	Parts []Part `json:"parts,omitempty"`
	// MediaUpload (caption, prepare) is a presigned PUT for a small
	// browser-playable copy of the audio (Ogg Opus, PlaybackContentType).
	// Best effort: the agent reports it in TaskResult.Media, and a copy
	// that could not be made never fails the task.
	MediaUpload *Presigned `json:"media_upload,omitempty"`
}

// PlaybackContentType is the type of the playback copy agents upload.
const PlaybackContentType = "audio/ogg"

// CodePlaybackFailed is MediaReport.Error.Code when the playback copy could
// not be encoded or uploaded.
const CodePlaybackFailed = "playback_failed"

// MediaReport is what a caption or prepare task did with
// Spec.MediaUpload: the copy it uploaded (Key, the upload's key, with Size,
// SHA256, ContentType), or why there is none (Error).
type MediaReport struct {
	Key         string `json:"key,omitempty"`
	Size        int64  `json:"size,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Error       *Error `json:"error,omitempty"`
}

// Part is one chunk's transcript for a merge: presigned GET of the
// transcript a transcribe task uploaded.
type Part struct {
	Chunk
	URL string `json:"url"`
}

// UploadsRequest is the body of POST /v1/agent/tasks/{id}/uploads: a
// prepare task asks where to PUT the Count chunks it split.
type UploadsRequest struct {
	Token int64 `json:"token"`
	Count int   `json:"count"` // 1..MaxChunks
}

// UploadsResponse is the reply: one presigned PUT per chunk, in order.
type UploadsResponse struct {
	Uploads []Presigned `json:"uploads"`
}

// MaxChunks bounds the chunks one job is split into.
const MaxChunks = 1000

// PreparedChunk is a chunk a prepare task uploaded.
type PreparedChunk struct {
	Chunk
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Presigned is a time-limited URL for one object operation.
type Presigned struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Key     string            `json:"key"`
	Headers map[string]string `json:"headers,omitempty"`
	Expires time.Time         `json:"expires"`
}

// HeartbeatRequest extends a lease and reports progress.
type HeartbeatRequest struct {
	Token    int64              `json:"token"`
	Stage    string             `json:"stage,omitempty"`
	Progress float64            `json:"progress"`          // 0..1 for the whole task
	Timings  map[string]float64 `json:"timings,omitempty"` // finished stages, seconds
}

// HeartbeatResponse tells the agent the new deadline and whether to stop.
type HeartbeatResponse struct {
	Deadline time.Time `json:"deadline"`
	Cancel   bool      `json:"cancel,omitempty"`
	Drain    bool      `json:"drain,omitempty"`
}

// CompleteRequest reports success after the result was uploaded.
type CompleteRequest struct {
	Token  int64      `json:"token"`
	Result TaskResult `json:"result"`
	// Next, where the server announced FeatureCompleteNext, leases up to
	// Next.Max more tasks in the same call, without waiting: the reply is
	// then 200 with CompleteResponse; without it, 204 as always. The
	// completion stands whatever the lease part finds (nothing queued, the
	// agent draining); only the completion's own errors fail the call.
	Next *NextRequest `json:"next,omitempty"`
}

// NextRequest asks a completion for the agent's next tasks; the agent's
// capabilities are those of its last lease call.
type NextRequest struct {
	Max int `json:"max"` // 1..100
}

// CompleteResponse is the reply to a completion that asked for Next.
type CompleteResponse struct {
	Next LeaseResponse `json:"next"`
}

// TaskResult is the uploaded transcript: where it is, and what it holds.
type TaskResult struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Result
	// Chunks is a prepare task's split audio, in order; a prepare task
	// that completes with chunks has no transcript of its own.
	Chunks []PreparedChunk `json:"chunks,omitempty"`
	// Media (caption, prepare) reports the playback copy; absent when the
	// task made none (no MediaUpload, or the source's captions were used
	// and no media was downloaded).
	Media *MediaReport `json:"media,omitempty"`
}

// FailRequest reports a failed attempt.
type FailRequest struct {
	Token int64 `json:"token"`
	Error Error `json:"error"`
	// Retryable asks for another attempt (transient failure). Permanent
	// failures fail the job at once.
	Retryable bool `json:"retryable"`
}

// ReleaseRequest hands a task back unfinished; it is requeued at once and the
// attempt is not counted against the task.
type ReleaseRequest struct {
	Token  int64  `json:"token"`
	Reason string `json:"reason,omitempty"`
}

// ParseLabels parses a label list as the CLI and agents take it:
// "k=v,k2=v2" (empty: none).
func ParseLabels(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}
