-- Task graphs: a job splits into prepare, one transcribe task per chunk and
-- a merge. A task waits for its parents (a JSON array of task ids) to
-- succeed; a transcribe task records its chunk ({index, start, end, key});
-- started_at is when the current lease began. Jobs count their chunks.

ALTER TABLE tasks ADD COLUMN parents jsonb NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN chunk jsonb;
ALTER TABLE tasks ADD COLUMN started_at timestamptz;
ALTER TABLE jobs ADD COLUMN chunks_total integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN chunks_done integer NOT NULL DEFAULT 0;
