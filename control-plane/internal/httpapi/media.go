package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/blob"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// mediaTTL is how long a media URL handed to a player works: enough to
// watch a long recording; a player that outlives it asks the route again.
const mediaTTL = time.Hour

// media points a player at a job's media (job.Media decides which): a 302
// to a presigned GET, or the URL as JSON when asked for it. The object is
// checked first, so a copy that never arrived or was removed is an honest
// 404 media_unavailable, not a URL that fails in the player.
func (a *API) media(c *fiber.Ctx) error {
	format := c.Query("format")
	if format != "" && format != "json" {
		return badRequest("format must be json, or absent for a redirect")
	}
	asJSON := format == "json" || acceptsJSON(c.Get(fiber.HeaderAccept))
	j, err := a.loadJob(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	tasks, err := a.jobs.JobTasks(ctx, j.ID)
	if err != nil {
		return err
	}
	src, why, ok := job.Media(j, tasks)
	if !ok {
		return errorf(http.StatusNotFound, api.CodeMediaUnavailable, why)
	}
	rc, err := a.blobs.Get(ctx, src.Key)
	if errors.Is(err, blob.ErrNotFound) {
		return errorf(http.StatusNotFound, api.CodeMediaUnavailable, "the job's "+src.Kind+" media is no longer in the object store")
	}
	if err != nil {
		return fmt.Errorf("media %s: %w", src.Key, err)
	}
	_ = rc.Close()
	p, err := a.blobs.PresignGet(ctx, src.Key, mediaTTL)
	if err != nil {
		return fmt.Errorf("presign media: %w", err)
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	if asJSON {
		return c.JSON(api.MediaLink{URL: p.URL, ContentType: src.ContentType, ExpiresAt: p.Expires.UTC(), Kind: src.Kind})
	}
	return c.Redirect(p.URL, http.StatusFound)
}

// acceptsJSON reports whether an Accept header names application/json
// itself: a player's "*/*" gets the redirect.
func acceptsJSON(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
			return true
		}
	}
	return false
}
