package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/auth"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// protocolStore is what the agent protocol reads and changes; changes to
// the agent itself go through Agents.
type protocolStore interface {
	UseEnrollment(ctx context.Context, tokenHash string, now time.Time) (store.Enrollment, error)
	CreateAgent(ctx context.Context, a store.Agent) error
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	Heartbeat(ctx context.Context, h store.Heartbeat) (job.Task, error)
	CompleteAndLease(ctx context.Context, c store.Completion, next *store.LeaseParams) (job.Job, []store.Leased, error)
	FailTask(ctx context.Context, f store.Failure) (job.Job, error)
	ReleaseTask(ctx context.Context, taskID, holder string, token int64, now time.Time) error
	GetTask(ctx context.Context, id string) (job.Task, error)
	JobTasks(ctx context.Context, jobID string) ([]job.Task, error)
}

func (a *API) register(c *fiber.Ctx) error {
	var req api.RegisterRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" || len(req.Name) > 128 {
		return badRequest("name is required (at most 128 characters)")
	}
	if req.Capabilities.Slots < 1 {
		req.Capabilities.Slots = 1
	}
	if _, ok := auth.Parse(req.EnrollmentToken, auth.PrefixEnrollment); !ok {
		return errorf(http.StatusUnauthorized, api.CodeBadToken, "enrollment token missing or malformed")
	}
	ctx := c.UserContext()
	now := a.now()
	enr, err := a.protocol.UseEnrollment(ctx, auth.Hash(req.EnrollmentToken), now)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusUnauthorized, api.CodeBadToken, "unknown enrollment token")
	}
	if err != nil {
		return err
	}
	// Labels fixed by the enrollment token override what the agent claims.
	if len(enr.Labels) > 0 {
		if req.Capabilities.Labels == nil {
			req.Capabilities.Labels = map[string]string{}
		}
		for k, v := range enr.Labels {
			req.Capabilities.Labels[k] = v
		}
	}
	agentCred := auth.New(auth.PrefixAgent)
	ag := store.Agent{
		ID: agentCred.ID, Name: req.Name, Hostname: req.Hostname, Version: req.Version,
		TokenHash: agentCred.Hash(), EnrollmentID: enr.ID, Capabilities: req.Capabilities,
		CreatedAt: now, LastSeenAt: now, TokenExpiresAt: now.Add(a.cfg.AgentTokenTTL),
	}
	if err := a.protocol.CreateAgent(ctx, ag); err != nil {
		return err
	}
	a.log.Info("agent registered", "agent", ag.ID, "name", ag.Name, "host", ag.Hostname)
	return c.Status(http.StatusCreated).JSON(api.RegisterResponse{
		AgentID: ag.ID, Token: agentCred.Token(), ExpiresAt: ag.TokenExpiresAt.UTC(),
		LeaseSeconds:     a.cfg.LeaseDuration.Seconds(),
		HeartbeatSeconds: a.cfg.HeartbeatInterval.Seconds(),
		MaxLeaseWaitSecs: a.cfg.MaxLeaseWait.Seconds(),
	})
}

func (a *API) lease(c *fiber.Ctx) error {
	var req api.LeaseRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Max < 1 {
		req.Max = 1
	}
	if req.Max > maxLease {
		return badRequest(fmt.Sprintf("max must be between 1 and %d", maxLease))
	}
	out, err := a.leaseNext(c.UserContext(), agentOf(c), req.Max, time.Duration(req.WaitSeconds*float64(time.Second)), req.Capabilities)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// maxLease bounds the tasks one call leases.
const maxLease = 100

// features are the optional protocol features announced in lease replies.
func features() []string { return []string{api.FeatureCompleteNext} }

// leaseNext leases up to max tasks for ag, waiting up to wait for work;
// caps, when set, replaces the agent's capabilities. A lease call and a
// completion asking for its next tasks both come here.
func (a *API) leaseNext(ctx context.Context, ag store.Agent, max int, wait time.Duration, caps *api.Capabilities) (api.LeaseResponse, error) {
	if err := a.agents.Touch(ctx, ag.ID, a.now(), caps); err != nil {
		return api.LeaseResponse{}, err
	}
	if ag.Draining {
		return api.LeaseResponse{Tasks: []api.Lease{}, Drain: true, Features: features()}, nil
	}
	use := ag.Capabilities
	if caps != nil {
		use = *caps
	}
	tasks, err := a.dispatch.Lease(ctx, ag.ID, use, max, wait)
	a.obs.leased(tasks, a.now())
	if err != nil {
		return api.LeaseResponse{}, err
	}
	return a.hand(ctx, ag.ID, tasks)
}

// hand answers an agent with the tasks just leased for it, each with what
// it needs to run it (leaseFor).
func (a *API) hand(ctx context.Context, agentID string, tasks []store.Leased) (api.LeaseResponse, error) {
	out := api.LeaseResponse{Tasks: make([]api.Lease, 0, len(tasks)), Features: features()}
	for _, t := range tasks {
		l, err := a.leaseFor(ctx, t)
		if err != nil {
			// Hand them straight back: the agent never learned of them.
			for _, t := range tasks {
				_ = a.protocol.ReleaseTask(ctx, t.ID, agentID, t.Token, a.now())
			}
			a.notify.Notify(ctx)
			return api.LeaseResponse{}, err
		}
		l.Traceparent = a.obs.leaseTrace(ctx, t, agentID)
		out.Tasks = append(out.Tasks, l)
	}
	return out, nil
}

// leaseFor builds what the agent needs for a leased task: the job's spec,
// presigned URLs for the upload and for what the task reads (the uploaded
// source, a chunk's audio, the chunks' transcripts).
func (a *API) leaseFor(ctx context.Context, t store.Leased) (api.Lease, error) {
	j := t.Job
	spec := api.TaskSpec{
		URL: j.Spec.URL, Filename: j.Spec.Filename, Language: j.Spec.Language, Task: j.Spec.Task,
		Model: j.Spec.Model, Captions: j.Spec.Captions, MaxDuration: a.cfg.MaxDuration.Seconds(),
		MaxBytes: a.cfg.MaxUploadBytes, Labels: j.Spec.Labels, AllowPrivate: a.cfg.AllowPrivateSources,
	}
	switch t.Kind {
	case job.KindCaption, job.KindPrepare:
		spec.ChunkSeconds = j.Spec.ChunkSeconds
		if j.Spec.UploadKey != "" {
			src, err := a.blobs.PresignGet(ctx, j.Spec.UploadKey, a.cfg.PresignTTL)
			if err != nil {
				return api.Lease{}, fmt.Errorf("presign source: %w", err)
			}
			spec.SourceURL = src.URL
		}
		media, err := a.blobs.PresignPut(ctx, blob.MediaKey(t.JobID), a.cfg.PresignTTL)
		if err != nil {
			return api.Lease{}, fmt.Errorf("presign playback copy: %w", err)
		}
		spec.MediaUpload = &media
	case job.KindTranscribe:
		if t.Chunk == nil {
			return api.Lease{}, fmt.Errorf("transcribe task %s has no chunk", t.ID)
		}
		ch := api.Chunk{Index: t.Chunk.Index, Start: t.Chunk.Start, End: t.Chunk.End}
		src, err := a.blobs.PresignGet(ctx, t.Chunk.Key, a.cfg.PresignTTL)
		if err != nil {
			return api.Lease{}, fmt.Errorf("presign chunk: %w", err)
		}
		spec.Chunk, spec.ChunkURL = &ch, src.URL
	case job.KindMerge:
		parts, err := a.mergeParts(ctx, t.Task)
		if err != nil {
			return api.Lease{}, err
		}
		spec.Parts = parts
	}
	up, err := a.blobs.PresignPut(ctx, blob.ResultKey(t.JobID, t.ID, t.Attempt), a.cfg.PresignTTL)
	if err != nil {
		return api.Lease{}, fmt.Errorf("presign result: %w", err)
	}
	return api.Lease{
		TaskID: t.ID, JobID: t.JobID, Kind: t.Kind, Attempt: t.Attempt, Token: t.Token,
		Deadline: t.LeaseDeadline.UTC(), Spec: spec, Upload: up,
	}, nil
}

// mergeParts is a presigned GET of each transcript a merge task stitches:
// those of its parents (the job's transcribe tasks), in chunk order.
func (a *API) mergeParts(ctx context.Context, m job.Task) ([]api.Part, error) {
	tasks, err := a.protocol.JobTasks(ctx, m.JobID)
	if err != nil {
		return nil, fmt.Errorf("merge %s: %w", m.ID, err)
	}
	parents := make(map[string]bool, len(m.Parents))
	for _, id := range m.Parents {
		parents[id] = true
	}
	var chunks []job.Task
	for _, t := range tasks {
		if parents[t.ID] {
			chunks = append(chunks, t)
		}
	}
	if len(chunks) != len(m.Parents) {
		return nil, fmt.Errorf("merge %s: %d of %d parents found", m.ID, len(chunks), len(m.Parents))
	}
	slices.SortFunc(chunks, func(x, y job.Task) int { return cmp.Compare(chunkIndex(x), chunkIndex(y)) })
	parts := make([]api.Part, 0, len(chunks))
	for _, t := range chunks {
		if t.Chunk == nil || t.Result == nil || t.Result.Key == "" {
			return nil, fmt.Errorf("merge %s: parent %s has no chunk transcript", m.ID, t.ID)
		}
		g, err := a.blobs.PresignGet(ctx, t.Result.Key, a.cfg.PresignTTL)
		if err != nil {
			return nil, fmt.Errorf("presign part %d: %w", t.Chunk.Index, err)
		}
		parts = append(parts, api.Part{
			Chunk: api.Chunk{Index: t.Chunk.Index, Start: t.Chunk.Start, End: t.Chunk.End}, URL: g.URL,
		})
	}
	return parts, nil
}

func chunkIndex(t job.Task) int {
	if t.Chunk == nil {
		return -1
	}
	return t.Chunk.Index
}

// uploads hands a prepare task presigned PUTs for the chunks it split. Only
// the agent holding the task with its current token gets them; any other
// caller is told its lease is stale, learning nothing about the task.
func (a *API) uploads(c *fiber.Ctx) error {
	var req api.UploadsRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Count < 1 || req.Count > api.MaxChunks {
		return badRequest(fmt.Sprintf("count must be between 1 and %d", api.MaxChunks))
	}
	ctx := c.UserContext()
	t, err := a.protocol.GetTask(ctx, taskID(c))
	if err != nil {
		return err
	}
	if t.AgentID != agentOf(c).ID || job.CheckToken(t, req.Token) != nil {
		return fmt.Errorf("task %s: %w", t.ID, store.ErrStaleLease)
	}
	if t.Kind != job.KindPrepare {
		return badRequest("only prepare tasks upload chunks")
	}
	out := api.UploadsResponse{Uploads: make([]api.Presigned, 0, req.Count)}
	for i := range req.Count {
		up, err := a.blobs.PresignPut(ctx, blob.ChunkKey(t.JobID, t.ID, t.Token, i), a.cfg.PresignTTL)
		if err != nil {
			return fmt.Errorf("presign chunk %d: %w", i, err)
		}
		out.Uploads = append(out.Uploads, up)
	}
	return c.JSON(out)
}

// checkResult vets a completion against the lease: a transcript must be
// the object this attempt was told to write, and a prepare task's chunks
// the objects the uploads call named for this lease.
func checkResult(t job.Task, res api.TaskResult) error {
	if err := checkMedia(t, res.Media); err != nil {
		return err
	}
	if len(res.Chunks) == 0 {
		if res.Key != blob.ResultKey(t.JobID, t.ID, t.Attempt) {
			return badRequest("result key does not belong to this lease")
		}
		return nil
	}
	if t.Kind != job.KindPrepare {
		return badRequest("only prepare tasks complete with chunks")
	}
	if res.Key != "" || res.Size != 0 || res.SHA256 != "" {
		return badRequest("a result with chunks has no transcript key, size or sha256")
	}
	for i, ch := range res.Chunks {
		if ch.Key != blob.ChunkKey(t.JobID, t.ID, t.Token, i) {
			return badRequest(fmt.Sprintf("chunk %d key does not belong to this lease", i))
		}
	}
	return nil
}

// checkMedia vets a playback copy report: only the tasks that were given
// the job's media upload make one, and it names that object. The key is
// trusted beyond that (the agent reports it after its PUT succeeded); the
// media route checks the object exists before pointing a player at it.
func checkMedia(t job.Task, m *api.MediaReport) error {
	switch {
	case m == nil:
		return nil
	case t.Kind != job.KindCaption && t.Kind != job.KindPrepare:
		return badRequest("only caption and prepare tasks report a playback copy")
	case m.Error != nil:
		if m.Key != "" {
			return badRequest("a failed playback copy has no key")
		}
		return nil
	case m.Key != blob.MediaKey(t.JobID):
		return badRequest("media key does not belong to this job")
	case m.Size <= 0:
		return badRequest("media size must be positive")
	}
	return nil
}

// taskID is the task of the request's path. fiber's strings alias its
// request buffer, reused once the handler returns, and the store may still
// hold the id then (a batched write whose caller gave up): it gets a copy.
func taskID(c *fiber.Ctx) string { return strings.Clone(c.Params("id")) }

func dropNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }

func (a *API) heartbeat(c *fiber.Ctx) error {
	var req api.HeartbeatRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Progress < 0 || req.Progress > 1 {
		return badRequest("progress must be between 0 and 1")
	}
	if len(req.Stage) > 64 || strings.ContainsRune(req.Stage, 0) {
		return badRequest("stage must be at most 64 characters, without NUL")
	}
	// The store refuses a task the calling agent does not hold as a stale
	// lease, revealing nothing about another agent's task.
	ag := agentOf(c)
	now := a.now()
	t, err := a.protocol.Heartbeat(c.UserContext(), store.Heartbeat{
		TaskID: taskID(c), Holder: ag.ID, Token: req.Token, Stage: req.Stage, Progress: req.Progress,
		Now: now, Deadline: now.Add(a.cfg.LeaseDuration),
	})
	if err != nil {
		return err
	}
	_ = a.agents.Touch(c.UserContext(), ag.ID, now, nil)
	return c.JSON(api.HeartbeatResponse{
		Deadline: t.LeaseDeadline.UTC(), Cancel: t.State == job.TaskCanceled, Drain: ag.Draining,
	})
}

func (a *API) complete(c *fiber.Ctx) error {
	var req api.CompleteRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	// What the media's metadata says (a title, say) is stored as text, which
	// holds no NUL character; an agent's report is not refused for one.
	res := &req.Result
	res.Title, res.Language, res.Origin = dropNUL(res.Title), dropNUL(res.Language), dropNUL(res.Origin)
	res.Engine, res.Model = dropNUL(res.Engine), dropNUL(res.Model)
	if m := res.Media; m != nil {
		m.ContentType = dropNUL(m.ContentType)
		if m.Error != nil {
			m.Error.Code, m.Error.Message = dropNUL(m.Error.Code), dropNUL(m.Error.Message)
		}
	}
	if n := req.Next; n != nil && (n.Max < 1 || n.Max > maxLease) {
		return badRequest(fmt.Sprintf("next.max must be between 1 and %d", maxLease))
	}
	ag, id, now := agentOf(c), taskID(c), a.now()
	// The next tasks are leased in the completion's own transaction: one
	// commit for both. A draining agent is leased nothing.
	var next *store.LeaseParams
	if req.Next != nil && !ag.Draining {
		next = &store.LeaseParams{AgentID: ag.ID, Capabilities: ag.Capabilities, Max: req.Next.Max,
			Now: now, Deadline: now.Add(a.cfg.LeaseDuration)}
	}
	j, leased, err := a.protocol.CompleteAndLease(c.UserContext(), store.Completion{
		TaskID: id, Holder: ag.ID, Token: req.Token, Result: req.Result, Now: now,
		Check: checkResult,
	}, next)
	if err != nil {
		return err
	}
	a.obs.taskCompleted(c.UserContext(), id, j, req.Result)
	a.log.Info("task completed", "task", id, "job", j.ID, "agent", ag.ID, "job_status", j.Status)
	if m := req.Result.Media; m != nil && m.Error != nil {
		a.log.Warn("agent could not make the playback copy; the job has no media of its own", "task", id, "job", j.ID,
			"agent", ag.ID, "code", m.Error.Code, "err", m.Error.Message)
	}
	// A split job's chunks, or its merge after the last chunk, were queued
	// by this completion: waiting agents look now, not at the next poll.
	if len(req.Result.Chunks) > 0 || j.ChunksTotal > 0 && j.ChunksDone == j.ChunksTotal && !j.Status.Final() {
		a.notify.Notify(c.UserContext())
	}
	if req.Next == nil {
		return c.SendStatus(http.StatusNoContent)
	}
	if ag.Draining {
		return c.JSON(api.CompleteResponse{Next: api.LeaseResponse{Tasks: []api.Lease{}, Drain: true, Features: features()}})
	}
	_ = a.agents.Touch(c.UserContext(), ag.ID, now, nil)
	a.obs.leased(leased, now)
	a.dispatch.Took(len(leased), req.Next.Max)
	// The completion is committed: a failure to hand the next tasks over
	// costs the agent only the lease call it would have made anyway, so it
	// is not an error of this call (an empty answer sends it back to
	// leasing).
	out, err := a.hand(c.UserContext(), ag.ID, leased)
	if err != nil {
		a.log.Warn("lease after completion failed; the agent will lease again", "agent", ag.ID, "err", err)
		out = api.LeaseResponse{Tasks: []api.Lease{}, Features: features()}
	}
	return c.JSON(api.CompleteResponse{Next: out})
}

func (a *API) fail(c *fiber.Ctx) error {
	var req api.FailRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Error.Code == "" {
		return badRequest("error.code is required")
	}
	req.Error.Message = dropNUL(req.Error.Message) // tools' output may hold any byte
	ag, id := agentOf(c), taskID(c)
	j, err := a.protocol.FailTask(c.UserContext(), store.Failure{
		TaskID: id, Holder: ag.ID, Token: req.Token, Error: req.Error, Retryable: req.Retryable,
		Policy: a.cfg.RetryPolicy, Jitter: jitter(), Now: a.now(),
	})
	if err != nil {
		return err
	}
	a.obs.taskFailed(c.UserContext(), id, j, req.Error.Code)
	if req.Error.Code == api.CodeChunkMissing {
		a.notify.Notify(c.UserContext()) // the job's prepare task was queued again
	}
	a.log.Info("task failed", "task", id, "job", j.ID, "agent", ag.ID, "code", req.Error.Code, "retryable", req.Retryable, "job_status", j.Status)
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) release(c *fiber.Ctx) error {
	var req api.ReleaseRequest
	if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	ag, id := agentOf(c), taskID(c)
	if err := a.protocol.ReleaseTask(c.UserContext(), id, ag.ID, req.Token, a.now()); err != nil {
		return err
	}
	a.log.Info("task handed back", "task", id, "agent", ag.ID, "reason", req.Reason)
	a.notify.Notify(c.UserContext())
	return c.SendStatus(http.StatusNoContent)
}
