package job

import (
	"time"

	"github.com/ytcaption/ytcaption/control-plane/api"
)

// Shares of a split job's progress: the prepare task reports up to
// prepareShare of its own progress before it splits (the pipeline's weights
// up to the audio), the chunks the most, the merge the rest.
const (
	prepareShare = 0.5
	mergeShare   = 0.05
)

// settle derives a job's aggregate fields from its tasks after any change to
// them: status by Aggregate, progress (never going back while the job runs),
// the stage of a split job, the chunk counts, the error of the task that
// failed (or was canceled), and FinishedAt while final.
func settle(j Job, tasks []Task, now time.Time) Job {
	prev := j
	j.Status = Aggregate(tasks)
	// Attempts counts the leases of the current run that were not handed back.
	j.Attempts = 0
	j.ChunksTotal, j.ChunksDone = 0, 0
	var chunkProgress, mergeProgress float64
	merging := false
	for _, t := range tasks {
		j.Attempts += t.Attempt
		switch t.Kind {
		case KindTranscribe:
			j.ChunksTotal++
			chunkProgress += taskProgress(t)
			if t.State == TaskSucceeded {
				j.ChunksDone++
			}
		case KindMerge:
			mergeProgress = taskProgress(t)
			merging = t.State == TaskQueued || t.State == TaskLeased
		}
	}
	switch {
	case j.ChunksTotal > 0:
		j.Progress = prepareShare + (1-prepareShare-mergeShare)*chunkProgress/float64(j.ChunksTotal) + mergeShare*mergeProgress
		if !j.Status.Final() {
			j.Stage = KindTranscribe
			if merging {
				j.Stage = KindMerge
			}
		}
	case len(tasks) > 0:
		var sum float64
		for _, t := range tasks {
			sum += taskProgress(t)
		}
		j.Progress = sum / float64(len(tasks))
	}
	if j.Status == api.JobRunning && prev.Status == api.JobRunning {
		j.Progress = max(j.Progress, prev.Progress)
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

func taskProgress(t Task) float64 {
	if t.State == TaskSucceeded {
		return 1
	}
	return t.Progress
}

// unblock queues the waiting tasks whose parents have all succeeded. It
// returns the tasks it changed; tasks is updated in place.
func unblock(tasks []Task, now time.Time) []Task {
	succeeded := map[string]bool{}
	for _, t := range tasks {
		succeeded[t.ID] = t.State == TaskSucceeded
	}
	var changed []Task
	for i, t := range tasks {
		if t.State != TaskWaiting || !allOf(t.Parents, succeeded) {
			continue
		}
		t.State, t.RunAt, t.UpdatedAt = TaskQueued, now, now
		tasks[i] = t
		changed = append(changed, t)
	}
	return changed
}

func allOf(ids []string, set map[string]bool) bool {
	for _, id := range ids {
		if !set[id] {
			return false
		}
	}
	return true
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
		c, err := cancel(t, now, api.Error{Code: api.CodeCanceled, Message: "canceled: another task of the job failed"})
		if err != nil {
			continue
		}
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
