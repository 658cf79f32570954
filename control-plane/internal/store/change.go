package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// JobChange is what a backend writes beside a changed job, in the same
// transaction: the next event and the webhook deliveries it causes.
type JobChange struct {
	Event      JobEvent
	Deliveries []WebhookDelivery
	// Succeeded is set when the job just became succeeded: the backend
	// records its result in the cache if the job has a cache key.
	Succeeded bool
}

// PlanJobChange compares a job with its last event (nil if none) and
// returns what to record, or false when status, stage and progress are
// unchanged. endpoints are the tenant's webhook endpoints.
func PlanJobChange(prev *JobEvent, j job.Job, endpoints []WebhookEndpoint, now time.Time) (JobChange, bool, error) {
	if prev != nil && prev.Status == j.Status && prev.Stage == j.Stage && prev.Progress == j.Progress {
		return JobChange{}, false, nil
	}
	seq := int64(1)
	if prev != nil {
		seq = prev.Seq + 1
	}
	snap := j.ToAPI()
	ch := JobChange{Event: JobEvent{JobID: j.ID, Seq: seq, Status: j.Status, Stage: j.Stage, Progress: j.Progress, Job: snap, At: now}}
	statusChanged := prev == nil || prev.Status != j.Status
	ch.Succeeded = statusChanged && j.Status == api.JobSucceeded

	eventType := ""
	if statusChanged {
		eventType = FinalEventType(j.Status)
	}
	if eventType == "" && prev != nil && !j.Status.Final() {
		eventType = api.EventJobProgress
	}
	if eventType == "" {
		return ch, true, nil
	}
	var body []byte
	payload := func() ([]byte, error) {
		if body != nil {
			return body, nil
		}
		ev := api.WebhookEvent{ID: fmt.Sprintf("evt_%s_%d", j.ID, seq), Type: eventType, CreatedAt: now.UTC()}
		ev.Data.Job = snap
		b, err := json.Marshal(ev)
		body = b
		return b, err
	}
	add := func(endpointID, url string) error {
		b, err := payload()
		if err != nil {
			return fmt.Errorf("encode webhook event: %w", err)
		}
		due := now
		ch.Deliveries = append(ch.Deliveries, WebhookDelivery{
			ID: newDeliveryID(), Tenant: j.Tenant, EndpointID: endpointID, EventID: fmt.Sprintf("evt_%s_%d", j.ID, seq),
			EventType: eventType, JobID: j.ID, URL: url, Payload: b, Status: api.DeliveryPending,
			NextAttemptAt: &due, WindowStart: now, CreatedAt: now, UpdatedAt: now,
		})
		return nil
	}
	// A job's own webhook_url gets the final events only.
	if j.Spec.WebhookURL != "" && eventType != api.EventJobProgress {
		if err := add("", j.Spec.WebhookURL); err != nil {
			return ch, false, err
		}
	}
	for _, e := range endpoints {
		if Subscribes(e.Events, eventType) {
			if err := add(e.ID, e.URL); err != nil {
				return ch, false, err
			}
		}
	}
	return ch, true, nil
}

func newDeliveryID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "whd_" + hex.EncodeToString(b)
}
