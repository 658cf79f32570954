package job

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// ValidationError is a request that cannot be accepted; Code is a stable api code.
type ValidationError struct {
	Code    string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

func invalid(code, format string, args ...any) error {
	return &ValidationError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Limits bound what a request may contain.
const (
	MaxURLLength      = 4096
	MaxMetadataBytes  = 16 << 10
	DefaultPriority   = 5
	MaxPriority       = 9
	MaxIdempotencyKey = 255
	// Chunks shorter than this would cost more in task overhead than they
	// gain in parallelism.
	MinChunkSeconds = 10
	MaxChunkSeconds = 3600
)

var languageRE = regexp.MustCompile(`^(auto|[a-z]{2,3}(-[A-Za-z0-9]{2,8})?)$`)

// Normalize validates a request and fills in defaults. upload says whether a
// file accompanies it (then URL must be empty).
func Normalize(req api.JobRequest, upload bool) (Spec, error) {
	s := Spec{
		URL:          strings.TrimSpace(req.URL),
		Language:     strings.TrimSpace(req.Language),
		Task:         req.Task,
		Model:        strings.TrimSpace(req.Model),
		Priority:     DefaultPriority,
		Captions:     req.Captions,
		Cache:        true,
		WebhookURL:   strings.TrimSpace(req.WebhookURL),
		Metadata:     req.Metadata,
		Labels:       req.Labels,
		ChunkSeconds: api.DefaultChunkSeconds,
	}
	switch {
	case upload && s.URL != "":
		return s, invalid(api.CodeInvalidRequest, "give either a url or a file, not both")
	case !upload && s.URL == "":
		return s, invalid(api.CodeInvalidRequest, "url is required (or upload a file)")
	case !upload:
		if err := ValidateURL(s.URL); err != nil {
			return s, err
		}
	}
	if s.Language == "" {
		s.Language = "auto"
	}
	if !languageRE.MatchString(s.Language) {
		return s, invalid(api.CodeInvalidRequest, "language must be \"auto\" or a language code such as \"en\"")
	}
	switch s.Task {
	case "":
		s.Task = api.TaskTranscribe
	case api.TaskTranscribe, api.TaskTranslate:
	default:
		return s, invalid(api.CodeInvalidRequest, "task must be \"transcribe\" or \"translate\"")
	}
	if len(s.Model) > 128 {
		return s, invalid(api.CodeInvalidRequest, "model name too long")
	}
	if req.Priority != nil {
		if *req.Priority < 0 || *req.Priority > MaxPriority {
			return s, invalid(api.CodeInvalidRequest, "priority must be between 0 and 9")
		}
		s.Priority = *req.Priority
	}
	switch s.Captions {
	case "":
		s.Captions = api.CaptionsPreferExisting
	case api.CaptionsPreferExisting, api.CaptionsASROnly:
	default:
		return s, invalid(api.CodeInvalidRequest, "captions must be \"prefer-existing\" or \"asr-only\"")
	}
	if req.Cache != nil {
		s.Cache = *req.Cache
	}
	if s.WebhookURL != "" {
		if err := ValidateURL(s.WebhookURL); err != nil {
			return s, invalid(api.CodeInvalidRequest, "webhook_url: %s", err.Error())
		}
	}
	// PostgreSQL stores no NUL character in text or JSON.
	if strings.ContainsRune(s.Model, 0) {
		return s, invalid(api.CodeInvalidRequest, "model must not contain NUL characters")
	}
	if s.Metadata != nil {
		b, err := json.Marshal(s.Metadata)
		if err != nil || len(b) > MaxMetadataBytes {
			return s, invalid(api.CodeInvalidRequest, "metadata must be a JSON object of at most %d bytes", MaxMetadataBytes)
		}
		if bytes.Contains(b, []byte(`\u0000`)) {
			return s, invalid(api.CodeInvalidRequest, "metadata must not contain NUL characters")
		}
	}
	if req.ChunkSeconds != nil {
		c := *req.ChunkSeconds
		if c != 0 && (c < MinChunkSeconds || c > MaxChunkSeconds) || c != c {
			return s, invalid(api.CodeInvalidRequest, "chunk_seconds must be 0 (never split) or between %d and %d", MinChunkSeconds, MaxChunkSeconds)
		}
		s.ChunkSeconds = c
	}
	for k, v := range s.Labels {
		if k == "" || len(k) > 63 || len(v) > 63 || strings.ContainsRune(k+v, 0) {
			return s, invalid(api.CodeInvalidRequest, "labels: keys and values are at most 63 characters, keys non-empty, no NUL characters")
		}
	}
	return s, nil
}

// ValidateURL checks that raw is an absolute http(s) URL with a host. Whether
// the host may be reached is a separate, network-aware check.
func ValidateURL(raw string) error {
	if len(raw) > MaxURLLength {
		return invalid(api.CodeInvalidURL, "url longer than %d bytes", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(api.CodeInvalidURL, "url does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid(api.CodeInvalidURL, "url scheme must be http or https")
	}
	if u.Hostname() == "" {
		return invalid(api.CodeInvalidURL, "url has no host")
	}
	if u.User != nil {
		return invalid(api.CodeInvalidURL, "url must not carry credentials")
	}
	return nil
}

// Hash is a stable digest of a spec, used to tell an Idempotency-Key reused
// with a different request from a genuine repeat.
func (s Spec) Hash() string {
	b, _ := json.Marshal(s) // a Spec always marshals: it holds only JSON types
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ToAPI renders a job for the wire.
func (j Job) ToAPI() api.Job {
	out := api.Job{
		ID:           j.ID,
		Tenant:       j.Tenant,
		Status:       j.Status,
		Stage:        j.Stage,
		Progress:     j.Progress,
		Source:       api.Source{URL: j.Spec.URL, Filename: j.Spec.Filename, Size: j.Spec.Size},
		Language:     j.Spec.Language,
		Task:         j.Spec.Task,
		Model:        j.Spec.Model,
		Priority:     j.Spec.Priority,
		Captions:     j.Spec.Captions,
		Cache:        j.Spec.Cache,
		WebhookURL:   j.Spec.WebhookURL,
		Metadata:     j.Spec.Metadata,
		Attempts:     j.Attempts,
		ChunkSeconds: j.Spec.ChunkSeconds,
		CreatedAt:    j.CreatedAt.UTC(),
		UpdatedAt:    j.UpdatedAt.UTC(),
		Error:        j.Error,
		Result:       j.Result,
	}
	if j.FinishedAt != nil {
		f := j.FinishedAt.UTC()
		out.FinishedAt = &f
	}
	if j.ChunksTotal > 0 {
		out.Chunks = &api.ChunkSummary{Total: j.ChunksTotal, Done: j.ChunksDone}
	}
	return out
}

// ToAPI renders a task for the wire.
func (t Task) ToAPI() api.TaskInfo {
	out := api.TaskInfo{
		ID: t.ID, Kind: t.Kind, Status: string(t.State), AgentID: t.AgentID, Attempts: t.Attempt,
		Stage: t.Stage, Progress: t.Progress, Error: t.LastError,
	}
	if t.Chunk != nil {
		out.Chunk = &api.Chunk{Index: t.Chunk.Index, Start: t.Chunk.Start, End: t.Chunk.End}
	}
	if !t.StartedAt.IsZero() {
		s := t.StartedAt.UTC()
		out.StartedAt = &s
	}
	if t.State.Final() {
		f := t.UpdatedAt.UTC()
		out.FinishedAt = &f
	}
	runs := t.History()
	out.Runs = make([]api.TaskRun, len(runs))
	for i, r := range runs {
		out.Runs[i] = r.toAPI()
	}
	return out
}

func (r Run) toAPI() api.TaskRun {
	out := api.TaskRun{Attempt: r.Attempt, AgentID: r.AgentID, StartedAt: r.StartedAt.UTC(), Outcome: r.Outcome,
		Error: r.Error, Stages: make([]api.StageMark, len(r.Stages))}
	if !r.EndedAt.IsZero() {
		e := r.EndedAt.UTC()
		out.EndedAt = &e
	}
	for i, m := range r.Stages {
		out.Stages[i] = api.StageMark{Stage: m.Stage, At: m.At.UTC()}
	}
	return out
}
