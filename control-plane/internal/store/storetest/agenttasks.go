package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
	"github.com/ytcaption/ytcaption/control-plane/internal/store"
)

// An agent read lists the tasks the agent holds (Agent.Tasks), oldest lease
// first and at most store.MaxAgentTasks of them, beside their true count.

func agentTasksTests() []struct {
	name string
	fn   func(t *testing.T, s store.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AgentTasks", testAgentTasks},
		{"AgentTasksBounded", testAgentTasksBounded},
	}
}

// agentTaskOf is what an agent read shows of a task it leased.
func agentTaskOf(tk job.Task, stage string) store.AgentTask {
	return store.AgentTask{ID: tk.ID, JobID: tk.JobID, Kind: tk.Kind, Stage: stage, StartedAt: tk.StartedAt, Chunk: tk.Chunk}
}

// wantAgentTasks checks the tasks GetAgent and ListAgents show of an agent.
func wantAgentTasks(t *testing.T, s store.Store, id string, want []store.AgentTask) {
	t.Helper()
	ctx := context.Background()
	got, err := s.GetAgent(ctx, id)
	noErr(t, "GetAgent", err)
	if got.ActiveTasks != len(want) || !reflect.DeepEqual(got.Tasks, want) {
		t.Fatalf("GetAgent(%s): %d active, tasks\n got %+v\nwant %+v", id, got.ActiveTasks, got.Tasks, want)
	}
	list, err := s.ListAgents(ctx)
	noErr(t, "ListAgents", err)
	for _, a := range list {
		if a.ID == id {
			if !reflect.DeepEqual(a.Tasks, want) {
				t.Fatalf("ListAgents, %s: tasks\n got %+v\nwant %+v", id, a.Tasks, want)
			}
			return
		}
	}
	t.Fatalf("ListAgents: no agent %s", id)
}

func testAgentTasks(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"a1", "a2"} {
		noErr(t, "CreateAgent", s.CreateAgent(ctx, store.Agent{ID: id, TokenHash: "tok-" + id, Capabilities: defaultCaps(), CreatedAt: at, LastSeenAt: at}))
	}
	sp := createSplit(t, s, at)
	cj, _ := create(t, s, at, spec{})
	wantAgentTasks(t, s, "a1", nil)

	// A caption task, then a chunk's transcribe task a minute later.
	captionCaps, transcribeCaps := defaultCaps(), defaultCaps()
	captionCaps.Kinds, transcribeCaps.Kinds = []string{job.KindCaption}, []string{job.KindTranscribe}
	first := leaseAs(t, s, "a1", at.Add(time.Minute), 1, captionCaps)
	second := leaseAs(t, s, "a1", at.Add(2*time.Minute), 1, transcribeCaps)
	if len(first) != 1 || first[0].JobID != cj.ID || len(second) != 1 || second[0].JobID != sp.job.ID || second[0].Chunk == nil {
		t.Fatalf("setup leases: %+v and %+v", first, second)
	}
	caption, chunk := first[0], second[0]
	_, err := s.Heartbeat(ctx, store.Heartbeat{TaskID: chunk.ID, Holder: "a1", Token: chunk.Token, Stage: "transcribe",
		Progress: 0.5, Now: at.Add(3 * time.Minute), Deadline: at.Add(5 * time.Minute)})
	noErr(t, "Heartbeat", err)
	sameTime(t, "StartedAt of the caption task", caption.StartedAt, at.Add(time.Minute))
	wantAgentTasks(t, s, "a1", []store.AgentTask{agentTaskOf(caption, ""), agentTaskOf(chunk, "transcribe")})
	wantAgentTasks(t, s, "a2", nil)

	complete(t, s, caption, "k1", at.Add(4*time.Minute))
	wantAgentTasks(t, s, "a1", []store.AgentTask{agentTaskOf(chunk, "transcribe")})
	complete(t, s, chunk, "k2", at.Add(4*time.Minute))
	wantAgentTasks(t, s, "a1", nil)
}

func testAgentTasksBounded(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := epoch()
	noErr(t, "CreateAgent", s.CreateAgent(ctx, store.Agent{ID: "a1", TokenHash: "tok-a1", Capabilities: defaultCaps(), CreatedAt: at, LastSeenAt: at}))
	n := store.MaxAgentTasks + 2
	var want []store.AgentTask
	for i := range n {
		create(t, s, at, spec{URL: fmt.Sprintf("https://media.example.com/%d.mp4", i)})
		// One lease a second: the oldest are the first leased.
		got := leaseAs(t, s, "a1", at.Add(time.Duration(i+1)*time.Second), 1, defaultCaps())
		if len(got) != 1 {
			t.Fatalf("lease %d: %d tasks", i, len(got))
		}
		if i < store.MaxAgentTasks {
			want = append(want, agentTaskOf(got[0], ""))
		}
	}
	a, err := s.GetAgent(ctx, "a1")
	noErr(t, "GetAgent", err)
	if a.ActiveTasks != n || !reflect.DeepEqual(a.Tasks, want) {
		t.Fatalf("GetAgent: %d active (want %d), %d tasks listed (want the first %d leased)", a.ActiveTasks, n, len(a.Tasks), len(want))
	}
}
