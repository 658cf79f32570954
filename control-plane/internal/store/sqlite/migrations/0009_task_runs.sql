-- A task's attempts (job.Run, store.runRecord): a JSON array, oldest first,
-- of {attempt, token, agent_id, started_at, ended_at, outcome, error,
-- stages: [{stage, at}]}, bounded by the domain (20 runs, 16 stage marks
-- each). Written with the rest of the row; tasks leased before this column
-- show their current attempt from agent_id, attempt and started_at.

ALTER TABLE tasks ADD COLUMN runs TEXT NOT NULL DEFAULT '[]';
