// Package runner is the agent's lease loop. It long-polls the control plane
// for as many tasks as it has free slots, runs each through an Executor while
// heartbeats extend the lease and carry progress, uploads results through
// presigned URLs (a transcript, or a prepare task's audio chunks), and
// reports completion or failure. Cancel and drain arrive
// in heartbeat replies. Shutdown is two-phase: stop leasing and let running
// tasks finish within a grace period, then hand back (release) the rest so
// they are requeued at once instead of after their lease expires.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/ytcaption/ytcaption/agent/internal/failure"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Protocol is the part of the agent protocol the runner speaks.
type Protocol interface {
	Lease(ctx context.Context, req api.LeaseRequest) (api.LeaseResponse, error)
	Heartbeat(ctx context.Context, taskID string, req api.HeartbeatRequest) (api.HeartbeatResponse, error)
	Uploads(ctx context.Context, taskID string, req api.UploadsRequest) (api.UploadsResponse, error)
	Complete(ctx context.Context, taskID string, req api.CompleteRequest) (api.CompleteResponse, error)
	Fail(ctx context.Context, taskID string, req api.FailRequest) error
	Release(ctx context.Context, taskID string, req api.ReleaseRequest) error
}

// Executor does the work of one leased task.
type Executor interface {
	Execute(ctx context.Context, l api.Lease, progress func(stage string, p float64)) (Output, error)
}

// Tracer follows tasks in traces.
type Tracer interface {
	// Task opens a task's span, from its lease to its final report; end
	// closes it with the task's outcome.
	Task(ctx context.Context, l api.Lease) (_ context.Context, end func(error))
	// Step opens the span of a part of the task the runner does itself.
	Step(ctx context.Context, name string) (_ context.Context, end func(error))
}

// StepUpload is the step that uploads a task's output.
const StepUpload = "upload"

type noTracer struct{}

func (noTracer) Task(ctx context.Context, _ api.Lease) (context.Context, func(error)) {
	return ctx, func(error) {}
}

func (noTracer) Step(ctx context.Context, _ string) (context.Context, func(error)) {
	return ctx, func(error) {}
}

// Output is what a successful execution produced: a transcript, or a
// prepare task's split audio.
type Output struct {
	Transcript api.Transcript
	Result     api.Result // describes Transcript, or the split media
	// Chunks, when set, are uploaded through presigned PUTs from the
	// uploads call instead of a transcript, and the task completes with
	// them and no transcript.
	Chunks []ChunkFile
	// Playback, when set, waits for the browser-playable copy of the
	// task's audio (Ogg Opus) and returns its path. The runner PUTs it to
	// Spec.MediaUpload while the transcript or chunks upload and reports it
	// in the result; a copy that fails is reported and logged, never fails
	// the task.
	Playback func(ctx context.Context) (string, error)
	// Cleanup, when set, is called once the output is uploaded or dropped
	// (it removes the chunk files and the playback copy).
	Cleanup func()
}

// playbackPatience bounds waiting for and uploading the playback copy:
// it is a nicety, and the task's result waits for it.
const playbackPatience = 5 * time.Minute

// ChunkFile is one chunk of split audio on disk.
type ChunkFile struct {
	api.Chunk
	Path string // a 16 kHz mono WAV
}

// Config tunes the runner.
type Config struct {
	Slots             int
	Capabilities      api.Capabilities
	LeaseWait         time.Duration // long-poll hold asked for; default 30 s
	HeartbeatInterval time.Duration // default 10 s
	Grace             time.Duration // how long running tasks may finish after shutdown starts; default 60 s
	HTTP              *http.Client  // for presigned uploads
	// SpoolDir keeps finished results on disk until their upload succeeds;
	// UploadPatience is how long an object-store outage is waited out (the
	// lease is kept alive meanwhile) before the attempt fails as retryable.
	SpoolDir       string
	UploadPatience time.Duration
	Tracer         Tracer // nil: tasks are not traced
}

// Runner runs tasks for one agent.
type Runner struct {
	proto Protocol
	exec  Executor
	cfg   Config
	log   *slog.Logger

	hard     context.Context // canceled by Kill: everything stops now
	kill     context.CancelFunc
	draining atomic.Bool
	stopping atomic.Bool // Run is leaving: completions ask for no next task
	chain    atomic.Bool // the server leases the next task with a completion
	active   atomic.Int64
	wg       sync.WaitGroup

	mu    sync.Mutex
	tasks map[string]*task
	// caps is what lease requests advertise (SetCapabilities).
	caps atomic.Pointer[api.Capabilities]
}

// ErrUnauthorized is returned by Run when the control plane no longer
// accepts the agent's credential.
var ErrUnauthorized = errors.New("agent credential rejected")

// New returns a runner.
func New(p Protocol, e Executor, cfg Config, log *slog.Logger) *Runner {
	if cfg.Slots < 1 {
		cfg.Slots = 1
	}
	if cfg.LeaseWait <= 0 {
		cfg.LeaseWait = 30 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 10 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 60 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Minute}
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = filepath.Join(os.TempDir(), "ytcaption-agent", "spool")
	}
	if cfg.UploadPatience <= 0 {
		cfg.UploadPatience = 30 * time.Minute
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noTracer{}
	}
	hard, kill := context.WithCancel(context.Background())
	r := &Runner{proto: p, exec: e, cfg: cfg, log: log, hard: hard, kill: kill, tasks: map[string]*task{}}
	r.SetCapabilities(cfg.Capabilities)
	return r
}

// SetCapabilities replaces what the next lease requests advertise (and the
// control plane matches tasks against), e.g. once a newly fetched model
// serves another engine. Safe to call while Run runs.
func (r *Runner) SetCapabilities(c api.Capabilities) {
	c.Slots = r.cfg.Slots
	r.caps.Store(&c)
}

// Active is the number of tasks running now.
func (r *Runner) Active() int { return int(r.active.Load()) }

// Kill stops everything at once: running tasks are canceled and handed back.
func (r *Runner) Kill() { r.kill() }

// Run leases and runs tasks until ctx ends, then shuts down gracefully: no
// more leases, running tasks get Grace to finish, the rest are handed back.
func (r *Runner) Run(ctx context.Context) error {
	defer r.kill()
	free := make(chan struct{}, r.cfg.Slots)
	for range r.cfg.Slots {
		free <- struct{}{}
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval = 200*time.Millisecond, 30*time.Second
	var runErr error
loop:
	for {
		// Wait for at least one free slot.
		select {
		case <-ctx.Done():
			break loop
		case <-r.hard.Done():
			break loop
		case <-free:
		}
		n := 1
	more:
		for n < r.cfg.Slots {
			select {
			case <-free:
				n++
			default:
				break more
			}
		}
		resp, err := r.proto.Lease(ctx, api.LeaseRequest{Max: n, WaitSeconds: r.cfg.LeaseWait.Seconds(), Capabilities: r.caps.Load()})
		leased := 0
		if err == nil {
			bo.Reset()
			r.draining.Store(resp.Drain)
			r.chain.Store(slices.Contains(resp.Features, api.FeatureCompleteNext))
			for _, l := range resp.Tasks {
				leased++
				r.start(l, free)
			}
		}
		for range n - leased { // give back the slots not used
			free <- struct{}{}
		}
		switch {
		case err != nil && ctx.Err() != nil:
			break loop
		case isUnauthorized(err):
			runErr = fmt.Errorf("%w: %v", ErrUnauthorized, err)
			r.log.Error("control plane rejected the agent credential; stopping", "err", err)
			break loop
		case err != nil:
			wait := bo.NextBackOff()
			r.log.Warn("lease failed; backing off", "err", err, "retry_in", wait)
			if !sleep(ctx, wait) {
				break loop
			}
		case resp.Drain:
			// Drained: hold off, asking again now and then to see a resume.
			if !sleep(ctx, 5*time.Second) {
				break loop
			}
		}
	}
	r.stopping.Store(true)
	r.shutdown()
	return runErr
}

// shutdown waits up to Grace for running tasks, then hands the rest back.
func (r *Runner) shutdown() {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	if n := r.Active(); n > 0 {
		r.log.Info("shutting down: letting running tasks finish", "running", n, "grace", r.cfg.Grace)
	}
	select {
	case <-done:
		return
	case <-time.After(r.cfg.Grace):
		r.log.Warn("grace period over: handing back unfinished tasks", "running", r.Active())
	case <-r.hard.Done():
		r.log.Warn("stopping now: handing back unfinished tasks", "running", r.Active())
	}
	r.mu.Lock()
	for _, t := range r.tasks {
		t.stop(stopHandBack)
	}
	r.mu.Unlock()
	<-done
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func isUnauthorized(err error) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Status == http.StatusUnauthorized
}

func uploadBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 500*time.Millisecond, 30*time.Second
	return b
}

// isGone reports an answer that means the lease is not ours any more.
func isGone(err error) bool {
	var se *api.StatusError
	return errors.As(err, &se) && (se.Status == http.StatusConflict || se.Status == http.StatusNotFound)
}

// Why a task was stopped before it finished.
type stopReason int32

const (
	stopNone     stopReason = iota
	stopCanceled            // the job was canceled: drop the work
	stopLost                // the lease is gone (rescued elsewhere): drop the work
	stopHandBack            // shutdown: release the task for someone else
)

type task struct {
	lease    api.Lease
	cancel   context.CancelFunc
	reason   atomic.Int32
	stage    atomic.Value // string
	progress atomic.Uint64
	changed  chan struct{}
}

func (t *task) stop(why stopReason) {
	t.reason.CompareAndSwap(int32(stopNone), int32(why))
	t.cancel()
}

func (r *Runner) start(l api.Lease, free chan<- struct{}) {
	ctx, cancel := context.WithCancel(r.hard)
	t := &task{lease: l, cancel: cancel, changed: make(chan struct{}, 1)}
	t.stage.Store("")
	r.mu.Lock()
	r.tasks[l.TaskID] = t
	r.mu.Unlock()
	r.active.Add(1)
	r.wg.Go(func() {
		handedOver := false
		defer func() {
			cancel()
			r.mu.Lock()
			delete(r.tasks, l.TaskID)
			r.mu.Unlock()
			r.active.Add(-1)
			if !handedOver {
				free <- struct{}{}
			}
		}()
		// A task leased with the completion (at most one: it asks for
		// one) takes over this slot.
		if next := r.run(ctx, t); len(next) > 0 {
			handedOver = true
			r.start(next[0], free)
		}
	})
}

// run executes t and reports its outcome. A completion also asks for the
// next task when the server offers that; run returns what it leased.
func (r *Runner) run(ctx context.Context, t *task) []api.Lease {
	l := t.lease
	log := r.log.With("task", l.TaskID, "job", l.JobID, "attempt", l.Attempt)
	log.Info("task started", "url", l.Spec.URL, "upload", l.Spec.Filename)
	hbDone := make(chan struct{})
	hbCtx, stopHB := context.WithCancel(ctx)
	go func() { defer close(hbDone); r.heartbeats(hbCtx, t, log) }()
	// Opened after the heartbeats started, the task's span leaves them out
	// of its trace (they would only be noise); the final report joins it.
	ctx, endTrace := r.cfg.Tracer.Task(ctx, l)

	out, err := r.exec.Execute(ctx, l, func(stage string, p float64) {
		t.progress.Store(uint64(p * 1e6))
		// A new stage is reported at once: the control plane marks when
		// each stage began (the task's runs). Progress alone rides on the
		// periodic heartbeat. The signal is coalesced: one pending at most.
		if old, _ := t.stage.Swap(stage).(string); old != stage {
			select {
			case t.changed <- struct{}{}:
			default:
			}
		}
	})
	// The span ends after the final report, with the work's outcome.
	defer func() { endTrace(err) }()
	if out.Cleanup != nil {
		defer out.Cleanup()
	}
	uploadStart := time.Now()
	var media chan *api.MediaReport
	pctx, stopPlayback := context.WithTimeout(ctx, playbackPatience)
	defer stopPlayback()
	if err == nil && out.Playback != nil && l.Spec.MediaUpload != nil {
		media = make(chan *api.MediaReport, 1)
		go func() { media <- r.uploadPlayback(pctx, l, out.Playback, log) }()
	}
	var res api.TaskResult
	if err == nil {
		uctx, endUpload := r.cfg.Tracer.Step(ctx, StepUpload)
		if len(out.Chunks) > 0 {
			res, err = r.uploadChunks(uctx, t, out)
		} else {
			res, err = r.upload(uctx, l, out)
		}
		endUpload(err)
	}
	if media != nil {
		if err != nil {
			stopPlayback() // no result: the copy is not wanted either
		}
		res.Media = <-media
	}
	if err == nil {
		// The time from the work's end to the completion: what the
		// transcript's (or chunks') upload and the playback copy cost.
		res.Timings = maps.Clone(res.Timings)
		if res.Timings == nil {
			res.Timings = map[string]float64{}
		}
		res.Timings["upload"] = time.Since(uploadStart).Seconds()
	}
	// Heartbeats go on during upload; stop them before the final call.
	stopHB()
	<-hbDone

	// Final calls must get through even when the task context was canceled.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	reason := stopReason(t.reason.Load())
	if err != nil && reason == stopNone && failure.IsCanceled(err) {
		reason = stopHandBack // killed before shutdown marked the task
	}
	switch {
	case reason == stopCanceled:
		log.Info("task canceled by the control plane")
		return nil
	case reason == stopLost:
		log.Warn("lease lost (rescued elsewhere); work dropped")
	case err == nil:
		req := api.CompleteRequest{Token: l.Token, Result: res}
		if r.chain.Load() && !r.draining.Load() && !r.stopping.Load() {
			req.Next = &api.NextRequest{Max: 1}
		}
		var resp api.CompleteResponse
		// Logged only when accepted: a refused late completion is not one.
		if r.final(fctx, log, func(ctx context.Context) error {
			var err error
			resp, err = r.proto.Complete(ctx, l.TaskID, req)
			return err
		}) {
			log.Info("task completed", "kind", l.Kind, "segments", res.Segments, "chunks", len(res.Chunks), "duration", res.Duration)
		}
		if resp.Next.Drain {
			r.draining.Store(true)
		}
		return resp.Next.Tasks
	case reason == stopHandBack:
		log.Info("handing task back")
		r.final(fctx, log, func(ctx context.Context) error {
			return r.proto.Release(ctx, l.TaskID, api.ReleaseRequest{Token: l.Token, Reason: "agent shutting down"})
		})
	default:
		e, retry := failure.Classify(err)
		log.Warn("task failed", "code", e.Code, "retryable", retry, "err", err)
		r.final(fctx, log, func(ctx context.Context) error {
			return r.proto.Fail(ctx, l.TaskID, api.FailRequest{Token: l.Token, Error: e, Retryable: retry})
		})
	}
	return nil
}

// final makes a closing protocol call, retrying transient errors; a stale
// lease answer ends it (the result is not wanted). It reports whether the
// control plane accepted the call.
func (r *Runner) final(ctx context.Context, log *slog.Logger, call func(context.Context) error) bool {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := call(ctx)
		if err != nil && !api.Retryable(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(2*time.Minute))
	if err != nil {
		if isGone(err) {
			log.Warn("control plane no longer holds our lease; result dropped", "err", err)
			return false
		}
		log.Error("could not report task outcome; the lease will expire and the task be retried", "err", err)
		return false
	}
	return true
}

// heartbeats extends the lease until ctx ends, sending progress, and stops
// the task on cancel or when the lease is lost.
func (r *Runner) heartbeats(ctx context.Context, t *task, log *slog.Logger) {
	l := t.lease
	deadline := l.Deadline
	// The control plane may grant leases shorter than the configured
	// interval: beat at least three times per lease so it never lapses.
	every := r.cfg.HeartbeatInterval
	if d := time.Until(l.Deadline) / 3; d > 0 && d < every {
		every = max(d, 100*time.Millisecond)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		// One heartbeat at a time: stage changes made while one is in
		// flight are sent together (the latest stage) right after it.
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-t.changed:
		}
		stage, _ := t.stage.Load().(string)
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := r.proto.Heartbeat(hctx, l.TaskID, api.HeartbeatRequest{
			Token: l.Token, Stage: stage, Progress: float64(t.progress.Load()) / 1e6,
		})
		cancel()
		switch {
		case err == nil:
			deadline = resp.Deadline
			r.draining.Store(resp.Drain)
			if resp.Cancel {
				t.stop(stopCanceled)
				return
			}
		case isGone(err) || isUnauthorized(err):
			log.Warn("heartbeat refused: lease lost", "err", err)
			t.stop(stopLost)
			return
		case ctx.Err() != nil:
			return
		default:
			log.Warn("heartbeat failed; will retry", "err", err)
			if time.Now().After(deadline) {
				// Without a heartbeat before the deadline the task has been
				// (or will be) rescued: stop rather than race the new holder.
				log.Warn("lease deadline passed without a heartbeat; stopping")
				t.stop(stopLost)
				return
			}
		}
	}
}

// upload writes the transcript through the presigned URL. The result is
// spooled to disk first and retried with backoff for up to UploadPatience, so
// an object-store outage shorter than that fails nothing.
func (r *Runner) upload(ctx context.Context, l api.Lease, out Output) (api.TaskResult, error) {
	body, err := json.Marshal(out.Transcript)
	if err != nil {
		return api.TaskResult{}, failure.Permanent(api.CodeTranscribeFailed, "encode transcript: %w", err)
	}
	if err := os.MkdirAll(r.cfg.SpoolDir, 0o700); err != nil {
		return api.TaskResult{}, failure.Transient("spool_failed", "create spool dir: %w", err)
	}
	spool := filepath.Join(r.cfg.SpoolDir, fmt.Sprintf("%s-%d.json", l.TaskID, l.Attempt))
	if err := os.WriteFile(spool, body, 0o600); err != nil {
		return api.TaskResult{}, failure.Transient("spool_failed", "spool result: %w", err)
	}
	defer os.Remove(spool)
	if err := r.put(ctx, l.TaskID, l.Upload, spool, int64(len(body)), ""); err != nil {
		return api.TaskResult{}, failure.Transient("upload_failed", "upload transcript: %w", err)
	}
	sum := sha256.Sum256(body)
	return api.TaskResult{Key: l.Upload.Key, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), Result: out.Result}, nil
}

// put uploads the file at path (size bytes) through the presigned p,
// retrying with backoff for up to UploadPatience. contentType, when set, is
// sent unless p's headers set one.
func (r *Runner) put(ctx context.Context, taskID string, p api.Presigned, path string, size int64, contentType string) error {
	method := p.Method
	if method == "" {
		method = http.MethodPut
	}
	attempts := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempts++
		f, err := os.Open(path)
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		defer f.Close()
		req, err := http.NewRequestWithContext(ctx, method, p.URL, f)
		if err != nil {
			return struct{}{}, backoff.Permanent(err)
		}
		req.ContentLength = size
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range p.Headers {
			req.Header.Set(k, v)
		}
		resp, err := r.cfg.HTTP.Do(req)
		if err != nil {
			if attempts == 1 {
				r.log.Warn("upload failed; keeping it on disk and retrying", "task", taskID, "key", p.Key, "err", err)
			}
			return struct{}{}, err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			err := fmt.Errorf("HTTP %d", resp.StatusCode)
			if api.RetryableStatus(resp.StatusCode) {
				return struct{}{}, err
			}
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, nil
	}, backoff.WithBackOff(uploadBackoff()), backoff.WithMaxElapsedTime(r.cfg.UploadPatience))
	if err != nil {
		return fmt.Errorf("after %d tries: %w", attempts, err)
	}
	return nil
}

// uploadChunks asks the control plane where to put a prepare task's chunks,
// PUTs each, and returns the result that completes the task: the chunks and
// no transcript. A refused uploads call (stale lease, deleted job) stops the
// task as lost.
func (r *Runner) uploadChunks(ctx context.Context, t *task, out Output) (api.TaskResult, error) {
	l := t.lease
	if len(out.Chunks) > api.MaxChunks {
		return api.TaskResult{}, failure.Permanent(api.CodeTooLong, "%d chunks; at most %d", len(out.Chunks), api.MaxChunks)
	}
	var ups api.UploadsResponse
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		var err error
		ups, err = r.proto.Uploads(ctx, l.TaskID, api.UploadsRequest{Token: l.Token, Count: len(out.Chunks)})
		if err != nil && !api.Retryable(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(uploadBackoff()), backoff.WithMaxElapsedTime(r.cfg.UploadPatience))
	if err != nil {
		if isGone(err) || isUnauthorized(err) {
			t.stop(stopLost)
		}
		return api.TaskResult{}, failure.Transient("upload_failed", "uploads call: %w", err)
	}
	if len(ups.Uploads) != len(out.Chunks) {
		return api.TaskResult{}, failure.Transient("upload_failed", "uploads call gave %d URLs for %d chunks", len(ups.Uploads), len(out.Chunks))
	}
	res := api.TaskResult{Result: out.Result, Chunks: make([]api.PreparedChunk, len(out.Chunks))}
	for i, c := range out.Chunks {
		size, sum, err := fileSum(c.Path)
		if err != nil {
			return api.TaskResult{}, failure.Transient(api.CodeInternal, "chunk %d: %w", c.Index, err)
		}
		up := ups.Uploads[i]
		if err := r.put(ctx, l.TaskID, up, c.Path, size, "audio/wav"); err != nil {
			return api.TaskResult{}, failure.Transient("upload_failed", "upload chunk %d: %w", c.Index, err)
		}
		res.Chunks[i] = api.PreparedChunk{Chunk: c.Chunk, Key: up.Key, Size: size, SHA256: sum}
	}
	return res, nil
}

// uploadPlayback waits for the playback copy and PUTs it to the lease's
// media upload. What goes wrong is logged and reported in the result (the
// control plane then serves no copy), never returned.
func (r *Runner) uploadPlayback(ctx context.Context, l api.Lease, wait func(context.Context) (string, error), log *slog.Logger) *api.MediaReport {
	fail := func(err error) *api.MediaReport {
		log.Warn("no playback copy; the task goes on without it", "err", err)
		msg := err.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		return &api.MediaReport{Error: &api.Error{Code: api.CodePlaybackFailed, Message: msg}}
	}
	path, err := wait(ctx)
	if err != nil {
		return fail(err)
	}
	size, sum, err := fileSum(path)
	if err != nil {
		return fail(fmt.Errorf("playback copy: %w", err))
	}
	if size == 0 {
		return fail(errors.New("playback copy is empty"))
	}
	up := *l.Spec.MediaUpload
	if err := r.put(ctx, l.TaskID, up, path, size, api.PlaybackContentType); err != nil {
		return fail(fmt.Errorf("upload playback copy: %w", err))
	}
	return &api.MediaReport{Key: up.Key, Size: size, SHA256: sum, ContentType: api.PlaybackContentType}
}

// fileSum is the size and hex SHA-256 of the file at path.
func fileSum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
