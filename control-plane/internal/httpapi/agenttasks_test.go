package httpapi

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// TestAgentTasksJSON: an agent shows the tasks it holds as the document's
// Agent schema says, and an idle one an empty array, never null.
func TestAgentTasksJSON(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is invalid: %v", err)
	}
	schema := doc.Components.Schemas["Agent"].Value

	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &API{now: func() time.Time { return now }}
	started := now.Add(-time.Minute).In(time.FixedZone("CET", 3600))
	busy := store.Agent{ID: "a1", Name: "gpu-1", CreatedAt: now, LastSeenAt: now, ActiveTasks: 2, Tasks: []store.AgentTask{
		{ID: "t1", JobID: "j1", Kind: job.KindCaption, StartedAt: started},
		{ID: "t2", JobID: "j2", Kind: job.KindTranscribe, Stage: "transcribe", StartedAt: started.Add(time.Second),
			Chunk: &job.Chunk{Index: 3, Start: 360, End: 480, Key: "chunks/j2/c3.wav"}},
	}}
	idle := store.Agent{ID: "a2", Name: "cpu-1", CreatedAt: now, LastSeenAt: now}

	for _, tc := range []struct {
		name  string
		agent store.Agent
		want  string // the "tasks" member
	}{
		{"busy", busy, `[{"id":"t1","job_id":"j1","kind":"caption","stage":"","started_at":"2030-01-02T03:03:05Z"},` +
			`{"id":"t2","job_id":"j2","kind":"transcribe","stage":"transcribe","started_at":"2030-01-02T03:03:06Z",` +
			`"chunk":{"index":3,"start":360,"end":480}}]`},
		{"idle", idle, `[]`},
	} {
		body, err := json.Marshal(a.agentToAPI(tc.agent))
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			t.Fatal(err)
		}
		if err := schema.VisitJSON(obj); err != nil {
			t.Fatalf("%s: %s does not match the Agent schema: %v", tc.name, body, err)
		}
		var got, want any
		raw, _ := json.Marshal(obj["tasks"])
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: tasks = %s, want %s", tc.name, raw, tc.want)
		}
	}
}
