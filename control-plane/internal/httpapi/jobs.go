package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/caption"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/control-plane/internal/submit"
)

// jobStore is what the job routes read and change.
type jobStore interface {
	GetJob(ctx context.Context, tenant, id string) (job.Job, error)
	JobTasks(ctx context.Context, jobID string) ([]job.Task, error)
	ListJobs(ctx context.Context, f store.JobFilter) ([]job.Job, string, error)
	CancelJob(ctx context.Context, tenant, id string, now time.Time) (job.Job, error)
	RetryJob(ctx context.Context, tenant, id string, now time.Time) (job.Job, error)
	CountUnfinished(ctx context.Context, tenant string) (int, error)
}

func (a *API) submitJob(c *fiber.Ctx) error {
	p := principal(c)
	// A copy: the store may still hold it after the handler returns (see taskID).
	idem := strings.Clone(strings.TrimSpace(c.Get("Idempotency-Key")))
	if len(idem) > job.MaxIdempotencyKey {
		return badRequest("Idempotency-Key longer than 255 characters")
	}
	var (
		req    api.JobRequest
		upload *multipart.FileHeader
	)
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		form, err := c.MultipartForm()
		if err != nil {
			return badRequest("invalid multipart form: " + err.Error())
		}
		defer func() { _ = form.RemoveAll() }()
		if req, err = formRequest(form); err != nil {
			return err
		}
		if files := form.File["file"]; len(files) > 0 {
			upload = files[0]
		}
	} else if err := a.decodeJSON(c, &req); err != nil {
		return err
	}
	spec, err := job.Normalize(req, upload != nil)
	if err != nil {
		return err
	}
	if err := a.checkTenantCap(c, p.Tenant); err != nil {
		return err
	}
	r := submit.Request{Tenant: p.Tenant, Spec: spec, IdempotencyKey: idem}
	if upload != nil {
		if upload.Size == 0 {
			return badRequest("the uploaded file is empty")
		}
		f, err := upload.Open()
		if err != nil {
			return fmt.Errorf("open upload: %w", err)
		}
		defer f.Close()
		r.Upload = &submit.Upload{Filename: upload.Filename, Size: upload.Size, Body: f}
	}
	out, created, err := a.submit.Submit(c.UserContext(), r)
	if err != nil {
		return err
	}
	if !created {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(http.StatusAccepted).JSON(out.ToAPI())
}

// formRequest reads the job fields of a multipart form.
func formRequest(form *multipart.Form) (api.JobRequest, error) {
	get := func(k string) string {
		if v := form.Value[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	req := api.JobRequest{
		URL: get("url"), Language: get("language"), Task: get("task"), Model: get("model"),
		Captions: get("captions"), WebhookURL: get("webhook_url"),
	}
	if v := get("priority"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return req, badRequest("priority must be an integer")
		}
		req.Priority = &n
	}
	if v := get("cache"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return req, badRequest("cache must be true or false")
		}
		req.Cache = &b
	}
	if v := get("chunk_seconds"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return req, badRequest("chunk_seconds must be a number")
		}
		req.ChunkSeconds = &f
	}
	if v := get("metadata"); v != "" {
		if err := json.Unmarshal([]byte(v), &req.Metadata); err != nil {
			return req, badRequest("metadata must be a JSON object")
		}
	}
	return req, nil
}

func (a *API) loadJob(c *fiber.Ctx) (job.Job, error) {
	return a.jobs.GetJob(c.UserContext(), principal(c).Scope(), c.Params("id"))
}

func (a *API) getJob(c *fiber.Ctx) error {
	j, err := a.loadJob(c)
	if err != nil {
		return err
	}
	return c.JSON(j.ToAPI())
}

// jobTasks lists a job's tasks in planning order; the job is looked up in
// the caller's scope first, so another tenant's job is not found.
func (a *API) jobTasks(c *fiber.Ctx) error {
	j, err := a.loadJob(c)
	if err != nil {
		return err
	}
	tasks, err := a.jobs.JobTasks(c.UserContext(), j.ID)
	if err != nil {
		return err
	}
	out := api.TaskList{Tasks: make([]api.TaskInfo, 0, len(tasks))}
	for _, t := range tasks {
		out.Tasks = append(out.Tasks, t.ToAPI())
	}
	return c.JSON(out)
}

func (a *API) listJobs(c *fiber.Ctx) error {
	f := store.JobFilter{Tenant: principal(c).Scope(), Cursor: c.Query("cursor")}
	if s := c.Query("status"); s != "" {
		switch st := api.JobStatus(s); st {
		case api.JobQueued, api.JobRunning, api.JobSucceeded, api.JobFailed, api.JobCanceled:
			f.Status = st
		default:
			return badRequest("status must be one of queued, running, succeeded, failed, canceled")
		}
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be between 1 and 1000")
		}
		f.Limit = n
	}
	jobs, next, err := a.jobs.ListJobs(c.UserContext(), f)
	if err != nil {
		return err
	}
	out := api.JobList{Jobs: make([]api.Job, 0, len(jobs)), NextCursor: next}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, j.ToAPI())
	}
	return c.JSON(out)
}

func (a *API) cancelJob(c *fiber.Ctx) error {
	j, err := a.cancel(c.UserContext(), principal(c).Scope(), c.Params("id"))
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, api.CodeConflict, "the job is already finished")
	}
	if err != nil {
		return err
	}
	return c.JSON(j.ToAPI())
}

// cancel cancels a job and counts it when that finished it.
func (a *API) cancel(ctx context.Context, tenant, id string) (job.Job, error) {
	j, err := a.jobs.CancelJob(ctx, tenant, id, a.now())
	if err == nil && j.Status.Final() {
		a.obs.jobFinished(j.Status)
	}
	return j, err
}

func (a *API) retryJob(c *fiber.Ctx) error {
	if err := a.checkTenantCap(c, principal(c).Tenant); err != nil {
		return err
	}
	j, err := a.jobs.RetryJob(c.UserContext(), principal(c).Scope(), c.Params("id"), a.now())
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, api.CodeConflict, "only failed or canceled jobs can be retried")
	}
	if err != nil {
		return err
	}
	a.notify.Notify(c.UserContext())
	return c.JSON(j.ToAPI())
}

func (a *API) captions(c *fiber.Ctx) error {
	format := c.Query("format", "srt")
	if caption.CheckFormat(format) != nil {
		return badRequest("format must be one of srt, vtt, json, txt")
	}
	layout := caption.Layout{}
	for name, dst := range map[string]*int{"max_chars": &layout.MaxChars, "max_lines": &layout.MaxLines} {
		if s := c.Query(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1000 {
				return badRequest(name + " must be a positive integer")
			}
			*dst = n
		}
	}
	j, err := a.loadJob(c)
	if err != nil {
		return err
	}
	if j.Status != api.JobSucceeded || j.ResultKey == "" {
		return errorf(http.StatusConflict, api.CodeConflict, "the job has no captions yet: it is "+string(j.Status))
	}
	t, err := a.transcript(c.UserContext(), j.ResultKey)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, caption.ContentType(format))
	return caption.Render(c.Response().BodyWriter(), t, format, layout)
}

func (a *API) transcript(ctx context.Context, key string) (api.Transcript, error) {
	rc, err := a.blobs.Get(ctx, key)
	if err != nil {
		return api.Transcript{}, fmt.Errorf("read transcript %s: %w", key, err)
	}
	defer rc.Close()
	var t api.Transcript
	if err := json.NewDecoder(rc).Decode(&t); err != nil {
		return t, fmt.Errorf("decode transcript %s: %w", key, err)
	}
	return t, nil
}
