package store

import (
	"time"

	"github.com/ytcaption/ytcaption/control-plane/internal/job"
)

// MaxAgentTasks bounds the tasks an agent read lists (Agent.Tasks);
// Agent.ActiveTasks still counts them all.
const MaxAgentTasks = 50

// AgentTask is a task an agent holds (leased), as the fleet view shows it.
type AgentTask struct {
	ID        string
	JobID     string
	Kind      string
	Stage     string
	StartedAt time.Time // of the current lease
	Chunk     *job.Chunk
}

// agentTaskRecord is one element of the JSON array both backends build, in
// the agent read itself, from an agent's leased tasks.
type agentTaskRecord struct {
	ID    string `json:"id"`
	JobID string `json:"job_id"`
	Kind  string `json:"kind"`
	Stage string `json:"stage"`
	// StartedUS is the lease's start in Unix microseconds: SQLite stores
	// it so, and PostgreSQL converts, so both decode the same way.
	StartedUS int64        `json:"started_us"`
	Chunk     *chunkRecord `json:"chunk"`
}

func (r agentTaskRecord) task() AgentTask {
	t := AgentTask{ID: r.ID, JobID: r.JobID, Kind: r.Kind, Stage: r.Stage}
	if r.StartedUS != 0 {
		t.StartedAt = time.UnixMicro(r.StartedUS).UTC()
	}
	if r.Chunk != nil {
		c := r.Chunk.chunk()
		t.Chunk = &c
	}
	return t
}

// DecodeAgentTasks decodes the backends' array of an agent's tasks; an
// empty array is no tasks (nil).
func DecodeAgentTasks(b []byte, p *[]AgentTask) error {
	var rs []agentTaskRecord
	if err := DecodeJSON(b, &rs); err != nil {
		return err
	}
	var out []AgentTask
	for _, r := range rs {
		out = append(out, r.task())
	}
	*p = out
	return nil
}
