package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// eventLog is what event streams read.
type eventLog interface {
	JobEvents(ctx context.Context, jobID string, after int64, limit int) ([]store.JobEvent, error)
}

// eventPoll is how often a stream looks for new events. The event log is in
// the store, so any replica can serve (and resume) any job's stream.
const eventPoll = 250 * time.Millisecond

// events streams a job's events (status, stage, progress; the final one
// carries the result) as server-sent events until the job is final. Each
// event's id is its sequence number in the job's event log: a client that
// reconnects with Last-Event-ID (or ?last_event_id=) gets every later event,
// with no gap and no repeat.
func (a *API) events(c *fiber.Ctx) error {
	j, err := a.loadJob(c)
	if err != nil {
		return err
	}
	after := int64(0)
	if v := strings.TrimSpace(c.Get("Last-Event-ID", c.Query("last_event_id"))); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest("Last-Event-ID must be an event id from this stream")
		}
		after = n
	}
	id := j.ID
	log := a.log.With("job", id)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// The request context ends when the handler returns; the stream
		// lives on its own clock, bounded.
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Hour)
		defer cancel()
		lastPing := time.Now()
		for {
			evs, err := a.eventLog.JobEvents(ctx, id, after, 100)
			if err != nil {
				log.Warn("event stream: read events", "err", err)
				return
			}
			final := false
			for _, e := range evs {
				b, _ := json.Marshal(e.Job)
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Status, b); err != nil {
					return
				}
				after, final = e.Seq, e.Status.Final()
			}
			if len(evs) > 0 {
				if w.Flush() != nil {
					return
				}
				lastPing = time.Now()
			}
			if len(evs) == 100 {
				continue
			}
			if final || (len(evs) == 0 && a.finalAt(ctx, id, after)) {
				return
			}
			if time.Since(lastPing) > 15*time.Second {
				// A comment keeps proxies from closing an idle stream and
				// tells us when the client has gone.
				if _, err := w.WriteString(": ping\n\n"); err != nil || w.Flush() != nil {
					return
				}
				lastPing = time.Now()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(eventPoll):
			}
		}
	})
	return nil
}

// finalAt reports whether the job's event number seq is its last and final
// one (a resumed stream that has seen everything ends at once).
func (a *API) finalAt(ctx context.Context, jobID string, seq int64) bool {
	if seq == 0 {
		return false
	}
	evs, err := a.eventLog.JobEvents(ctx, jobID, seq-1, 2)
	return err == nil && len(evs) == 1 && evs[0].Status.Final()
}
