package job

import (
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// settle derives a job's aggregate fields from its tasks after any change to
// them: status by Aggregate, progress as the mean over tasks, the error of
// the task that failed (or was canceled), and FinishedAt while final.
func settle(j Job, tasks []Task, now time.Time) Job {
	j.Status = Aggregate(tasks)
	// Attempts counts the leases of the current run that were not handed back.
	j.Attempts = 0
	for _, t := range tasks {
		j.Attempts += t.Attempt
	}
	if len(tasks) > 0 {
		var sum float64
		for _, t := range tasks {
			if t.State == TaskSucceeded {
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
		j.Error = firstError(tasks, TaskFailed)
	case api.JobCanceled:
		j.Error = firstError(tasks, TaskCanceled)
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
	return j
}

func firstError(tasks []Task, state TaskState) *api.Error {
	for _, t := range tasks {
		if t.State == state && t.LastError != nil {
			e := *t.LastError
			return &e
		}
	}
	return nil
}

// abandonSiblings cancels the unfinished tasks of a job one of whose tasks
// failed for good: the job cannot succeed, so their work would be wasted. It
// returns the tasks it changed; tasks is updated in place.
func abandonSiblings(tasks []Task, now time.Time) []Task {
	failed := false
	for _, t := range tasks {
		failed = failed || t.State == TaskFailed
	}
	if !failed {
		return nil
	}
	var changed []Task
	for i, t := range tasks {
		if t.State.Final() {
			continue
		}
		c, err := Cancel(t, now)
		if err != nil {
			continue
		}
		c.LastError = &api.Error{Code: api.CodeCanceled, Message: "canceled: another task of the job failed"}
		tasks[i] = c
		changed = append(changed, c)
	}
	return changed
}

// clamp01 bounds a progress value to [0, 1] (NaN becomes 0).
func clamp01(x float64) float64 {
	switch {
	case x < 0 || x != x:
		return 0
	case x > 1:
		return 1
	}
	return x
}
