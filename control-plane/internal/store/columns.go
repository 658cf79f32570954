package store

import (
	"encoding/json"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// Encoding shared by the backends: JSON columns, and what a new job's tasks
// inherit from it. Columns of plain lists and maps use DecodeJSON and JSONArg
// directly; columns of structs go through their records (record.go).

// DecodeJSON decodes a JSON column into v; an empty one (SQL NULL) leaves v
// as it is.
func DecodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// JSONArg encodes v as JSON text for a JSON column; a nil pointer is SQL NULL.
func JSONArg[T any](v *T) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// PrepareTasks fills in what a new job's tasks inherit from it.
func PrepareTasks(j job.Job, tasks []job.Task) []job.Task {
	out := make([]job.Task, len(tasks))
	for i, t := range tasks {
		t.JobID = j.ID
		if t.Tenant == "" {
			t.Tenant = j.Tenant
		}
		if t.State == "" {
			t.State = job.TaskQueued
		}
		if t.CreatedAt.IsZero() {
			t.CreatedAt = j.CreatedAt
		}
		if t.UpdatedAt.IsZero() {
			t.UpdatedAt = t.CreatedAt
		}
		if t.RunAt.IsZero() {
			t.RunAt = t.CreatedAt
		}
		out[i] = t
	}
	return out
}
