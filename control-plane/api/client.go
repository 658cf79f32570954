package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Public routes.
const (
	PathJobs       = "/v1/jobs"
	PathAgents     = "/v1/agents"
	PathKeys       = "/v1/keys"
	PathEnrollment = "/v1/agents/enrollments"
)

// Client speaks the public API and the agent protocol. The zero value is not
// usable; build one with NewClient.
type Client struct {
	base  string
	token string
	// tokenFn, when set, is asked for the credential on every request, so a
	// renewed token is used at once by every caller sharing the client.
	tokenFn func() string
	http    *http.Client
}

// NewClient returns a client for the control plane at baseURL (e.g.
// "http://127.0.0.1:8080"), authenticating with token (an API key or an agent
// token). httpClient may be nil. Long-poll calls need a client without a
// short overall Timeout: per-call deadlines come from the context.
func NewClient(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
}

// NewClientWithTokenSource is NewClient with a credential read from token
// before every request (e.g. an agent token that is renewed while calls
// are in flight).
func NewClientWithTokenSource(baseURL string, token func() string, httpClient *http.Client) *Client {
	c := NewClient(baseURL, "", httpClient)
	c.tokenFn = token
	return c
}

// BaseURL is the server the client talks to.
func (c *Client) BaseURL() string { return c.base }

// WithToken returns a copy of the client that sends another credential.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token, cp.tokenFn = token, nil
	return &cp
}

// Do sends a JSON request and decodes a JSON response into out (if non-nil).
// Non-2xx responses become *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, header http.Header) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

func (c *Client) send(req *http.Request, out any) error {
	token := c.token
	if c.tokenFn != nil {
		token = c.tokenFn()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent { // 204: out keeps its zero value
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	se := &StatusError{Status: resp.StatusCode}
	var body ErrorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		se.Err = body.Error
	} else {
		se.Err = Error{Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		se.RetryAfter = ra
	}
	return se
}

// SubmitJob creates a job from a URL. idempotencyKey may be empty.
func (c *Client) SubmitJob(ctx context.Context, req JobRequest, idempotencyKey string) (Job, error) {
	var h http.Header
	if idempotencyKey != "" {
		h = http.Header{"Idempotency-Key": {idempotencyKey}}
	}
	var j Job
	err := c.Do(ctx, http.MethodPost, PathJobs, req, &j, h)
	return j, err
}

// UploadJob creates a job from a file's content, sent as multipart/form-data
// without buffering it whole in memory.
func (c *Client) UploadJob(ctx context.Context, req JobRequest, filename string, file io.Reader, idempotencyKey string) (Job, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := writeUploadForm(mw, req, filename, file)
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathJobs, pr)
	if err != nil {
		return Job{}, fmt.Errorf("build request: %w", err)
	}
	hr.Header.Set("Content-Type", mw.FormDataContentType())
	if idempotencyKey != "" {
		hr.Header.Set("Idempotency-Key", idempotencyKey)
	}
	var j Job
	err = c.send(hr, &j)
	return j, err
}

func writeUploadForm(mw *multipart.Writer, req JobRequest, filename string, file io.Reader) error {
	fields := map[string]string{
		"language": req.Language, "task": req.Task, "model": req.Model,
		"captions": req.Captions, "webhook_url": req.WebhookURL,
	}
	if req.Priority != nil {
		fields["priority"] = strconv.Itoa(*req.Priority)
	}
	if req.Cache != nil {
		fields["cache"] = strconv.FormatBool(*req.Cache)
	}
	if req.ChunkSeconds != nil {
		fields["chunk_seconds"] = strconv.FormatFloat(*req.ChunkSeconds, 'f', -1, 64)
	}
	if req.Metadata != nil {
		b, err := json.Marshal(req.Metadata)
		if err != nil {
			return fmt.Errorf("encode metadata: %w", err)
		}
		fields["metadata"] = string(b)
	}
	for k, v := range fields {
		if v == "" {
			continue
		}
		if err := mw.WriteField(k, v); err != nil {
			return err
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return err
	}
	_, err = io.Copy(fw, file)
	return err
}

// GetJob fetches one job.
func (c *Client) GetJob(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.Do(ctx, http.MethodGet, PathJobs+"/"+url.PathEscape(id), nil, &j, nil)
	return j, err
}

// JobTasks lists a job's tasks in planning order.
func (c *Client) JobTasks(ctx context.Context, id string) (TaskList, error) {
	var l TaskList
	err := c.Do(ctx, http.MethodGet, PathJobs+"/"+url.PathEscape(id)+"/tasks", nil, &l, nil)
	return l, err
}

// ListJobs lists jobs newest first; status and cursor may be empty.
func (c *Client) ListJobs(ctx context.Context, status JobStatus, limit int, cursor string) (JobList, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", string(status))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var l JobList
	err := c.Do(ctx, http.MethodGet, PathJobs+"?"+q.Encode(), nil, &l, nil)
	return l, err
}

// CancelJob cancels a job that is not final.
func (c *Client) CancelJob(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.Do(ctx, http.MethodPost, PathJobs+"/"+url.PathEscape(id)+"/cancel", nil, &j, nil)
	return j, err
}

// RetryJob requeues a failed or canceled job.
func (c *Client) RetryJob(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.Do(ctx, http.MethodPost, PathJobs+"/"+url.PathEscape(id)+"/retry", nil, &j, nil)
	return j, err
}

// CaptionOptions selects the rendering of GET /v1/jobs/{id}/captions.
type CaptionOptions struct {
	Format   string // srt, vtt, json, txt
	MaxChars int
	MaxLines int
}

// Captions writes a job's captions to w.
func (c *Client) Captions(ctx context.Context, id string, o CaptionOptions, w io.Writer) error {
	q := url.Values{}
	if o.Format != "" {
		q.Set("format", o.Format)
	}
	if o.MaxChars > 0 {
		q.Set("max_chars", strconv.Itoa(o.MaxChars))
	}
	if o.MaxLines > 0 {
		q.Set("max_lines", strconv.Itoa(o.MaxLines))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathJobs+"/"+url.PathEscape(id)+"/captions?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	return c.send(req, w)
}

// WaitJob polls until the job is final or ctx ends, calling onUpdate (may be
// nil) whenever status, stage or progress changes.
func (c *Client) WaitJob(ctx context.Context, id string, every time.Duration, onUpdate func(Job)) (Job, error) {
	var last Job
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		j, err := c.GetJob(ctx, id)
		if err != nil {
			return j, err
		}
		if onUpdate != nil && (j.Status != last.Status || j.Stage != last.Stage || j.Progress != last.Progress) {
			onUpdate(j)
		}
		last = j
		if j.Status.Final() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-t.C:
		}
	}
}

// Register exchanges an enrollment token for an agent credential. The
// returned client is not changed: use WithToken(resp.Token).
func (c *Client) Register(ctx context.Context, req RegisterRequest) (RegisterResponse, error) {
	var r RegisterResponse
	err := c.Do(ctx, http.MethodPost, PathAgentRegister, req, &r, nil)
	return r, err
}

// Renew exchanges the agent token the client sends for a new one; the old
// token stays valid for RenewGrace. The client is not changed.
func (c *Client) Renew(ctx context.Context) (RenewResponse, error) {
	var r RenewResponse
	err := c.Do(ctx, http.MethodPost, PathAgentRenew, nil, &r, nil)
	return r, err
}

// Lease long-polls for up to req.Max tasks.
func (c *Client) Lease(ctx context.Context, req LeaseRequest) (LeaseResponse, error) {
	var r LeaseResponse
	err := c.Do(ctx, http.MethodPost, PathAgentLease, req, &r, nil)
	return r, err
}

func taskPath(id, verb string) string { return PathAgentTask + "/" + url.PathEscape(id) + "/" + verb }

// Heartbeat extends a lease and reports progress.
func (c *Client) Heartbeat(ctx context.Context, taskID string, req HeartbeatRequest) (HeartbeatResponse, error) {
	var r HeartbeatResponse
	err := c.Do(ctx, http.MethodPost, taskPath(taskID, "heartbeat"), req, &r, nil)
	return r, err
}

// Uploads asks for presigned PUTs for the chunks a prepare task split.
func (c *Client) Uploads(ctx context.Context, taskID string, req UploadsRequest) (UploadsResponse, error) {
	var r UploadsResponse
	err := c.Do(ctx, http.MethodPost, taskPath(taskID, "uploads"), req, &r, nil)
	return r, err
}

// Complete reports success.
func (c *Client) Complete(ctx context.Context, taskID string, req CompleteRequest) (CompleteResponse, error) {
	var out CompleteResponse
	err := c.Do(ctx, http.MethodPost, taskPath(taskID, "complete"), req, &out, nil)
	return out, err
}

// Fail reports a failed attempt.
func (c *Client) Fail(ctx context.Context, taskID string, req FailRequest) error {
	return c.Do(ctx, http.MethodPost, taskPath(taskID, "fail"), req, nil, nil)
}

// Release hands a task back unfinished.
func (c *Client) Release(ctx context.Context, taskID string, req ReleaseRequest) error {
	return c.Do(ctx, http.MethodPost, taskPath(taskID, "release"), req, nil, nil)
}
