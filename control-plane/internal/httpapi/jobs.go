package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/caption"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
	"github.com/ytcaption/ytcaption/internal/netguard"
)

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
	ctx := c.UserContext()
	if spec.URL != "" {
		if err := a.checkHost(ctx, spec.URL); err != nil {
			return err
		}
	}
	now := a.now()
	uploadSum := sha256.New() // the cache key of an upload is its content hash
	j := job.Job{
		ID: a.newID(), Tenant: p.Tenant, Status: api.JobQueued, Spec: spec,
		IdempotencyKey: idem, CreatedAt: now, UpdatedAt: now,
	}
	if upload != nil {
		j.Spec.Filename = sanitizeFilename(upload.Filename)
		j.Spec.Size = upload.Size
		j.Spec.UploadKey = blob.UploadKey(j.ID)
		if upload.Size == 0 {
			return badRequest("the uploaded file is empty")
		}
		f, err := upload.Open()
		if err != nil {
			return fmt.Errorf("open upload: %w", err)
		}
		err = a.blobs.Put(ctx, j.Spec.UploadKey, io.TeeReader(f, uploadSum), upload.Size, "application/octet-stream")
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("store upload: %w", err)
		}
	}
	// The hash covers what the client sent, not the generated upload key.
	hashed := j.Spec
	hashed.UploadKey = ""
	j.RequestHash = hashed.Hash()
	out, created, err := a.createJob(ctx, j, uploadSum)
	if err != nil {
		if j.Spec.UploadKey != "" {
			_ = a.blobs.Delete(context.WithoutCancel(ctx), j.Spec.UploadKey)
		}
		return err
	}
	if created {
		a.notify.Notify(ctx)
	} else {
		c.Set("Idempotent-Replayed", "true")
		if j.Spec.UploadKey != "" {
			_ = a.blobs.Delete(context.WithoutCancel(ctx), j.Spec.UploadKey)
		}
	}
	return c.Status(http.StatusAccepted).JSON(out.ToAPI())
}

func (a *API) checkHost(ctx context.Context, raw string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	policy := netguard.Policy{AllowPrivate: a.cfg.AllowPrivateSources, Allow: a.cfg.SourceAllowList}
	if err := policy.CheckURL(ctx, a.resolver, raw); err != nil {
		if errors.Is(err, netguard.ErrForbidden) {
			return errorf(http.StatusBadRequest, api.CodeForbiddenSource,
				"the source address is loopback, private or otherwise not public; this server does not fetch from such addresses")
		}
		return errorf(http.StatusBadRequest, api.CodeInvalidURL, "url does not parse")
	}
	return nil
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
	if v := get("metadata"); v != "" {
		if err := json.Unmarshal([]byte(v), &req.Metadata); err != nil {
			return req, badRequest("metadata must be a JSON object")
		}
	}
	return req, nil
}

func sanitizeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}

func (a *API) loadJob(c *fiber.Ctx) (job.Job, error) {
	return a.store.GetJob(c.UserContext(), principal(c).Scope(), c.Params("id"))
}

func (a *API) getJob(c *fiber.Ctx) error {
	j, err := a.loadJob(c)
	if err != nil {
		return err
	}
	return c.JSON(j.ToAPI())
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
	jobs, next, err := a.store.ListJobs(c.UserContext(), f)
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
	j, err := a.store.CancelJob(c.UserContext(), principal(c).Scope(), c.Params("id"), a.now())
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, api.CodeConflict, "the job is already finished")
	}
	if err != nil {
		return err
	}
	return c.JSON(j.ToAPI())
}

func (a *API) retryJob(c *fiber.Ctx) error {
	if err := a.checkTenantCap(c, principal(c).Tenant); err != nil {
		return err
	}
	j, err := a.store.RetryJob(c.UserContext(), principal(c).Scope(), c.Params("id"), a.now())
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
