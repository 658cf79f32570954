package store

// Bookkeeping shared by the backends: how a job's aggregate fields follow
// from its tasks, and the list cursor. Dialect-independent, so it lives here.

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// Settle derives a job's aggregate fields from its tasks after any change to
// them: status by job.Aggregate, progress as the mean over tasks, the error of
// the task that failed (or was canceled), and FinishedAt while final.
func Settle(j *job.Job, tasks []job.Task, now time.Time) {
	j.Status = job.Aggregate(tasks)
	// Attempts counts the leases of the current run that were not handed back.
	j.Attempts = 0
	for _, t := range tasks {
		j.Attempts += t.Attempt
	}
	if len(tasks) > 0 {
		var sum float64
		for _, t := range tasks {
			if t.State == job.TaskSucceeded {
				sum++
			} else {
				sum += t.Progress
			}
		}
		j.Progress = sum / float64(len(tasks))
	}
	j.Error = nil
	switch j.Status {
	case api.JobFailed:
		j.Error = firstError(tasks, job.TaskFailed)
	case api.JobCanceled:
		j.Error = firstError(tasks, job.TaskCanceled)
	}
	if j.Status.Final() {
		if j.FinishedAt == nil {
			f := now
			j.FinishedAt = &f
		}
	} else {
		j.FinishedAt = nil
	}
	j.UpdatedAt = now
}

func firstError(tasks []job.Task, state job.TaskState) *api.Error {
	for _, t := range tasks {
		if t.State == state && t.LastError != nil {
			e := *t.LastError
			return &e
		}
	}
	return nil
}

// AbandonSiblings cancels the unfinished tasks of a job one of whose tasks
// failed for good: the job cannot succeed, so their work would be wasted. It
// returns the tasks it changed; tasks is updated in place.
func AbandonSiblings(tasks []job.Task, now time.Time) []job.Task {
	failed := false
	for _, t := range tasks {
		failed = failed || t.State == job.TaskFailed
	}
	if !failed {
		return nil
	}
	var changed []job.Task
	for i, t := range tasks {
		if t.State.Final() {
			continue
		}
		c, err := job.Cancel(t, now)
		if err != nil {
			continue
		}
		c.LastError = &api.Error{Code: api.CodeCanceled, Message: "canceled: another task of the job failed"}
		tasks[i] = c
		changed = append(changed, c)
	}
	return changed
}

// Clamp01 bounds a progress value to [0, 1] (NaN becomes 0).
func Clamp01(x float64) float64 {
	switch {
	case x < 0 || x != x:
		return 0
	case x > 1:
		return 1
	}
	return x
}

// Page sizes of ListJobs.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// PageLimit applies ListJobs' default and maximum page size.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// EncodeCursor makes the opaque cursor that resumes listing after job j:
// its creation time in microseconds and its id.
func EncodeCursor(j job.Job) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(j.CreatedAt.UnixMicro(), 10) + "." + j.ID))
}

// DecodeCursor reads a cursor made by EncodeCursor; a bad one is a
// validation error (400).
func DecodeCursor(c string) (time.Time, string, error) {
	bad := &job.ValidationError{Code: api.CodeInvalidRequest, Message: "invalid cursor"}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("decode cursor: %w", bad)
	}
	ts, id, ok := strings.Cut(string(b), ".")
	us, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", fmt.Errorf("decode cursor: %w", bad)
	}
	return time.UnixMicro(us).UTC(), id, nil
}
