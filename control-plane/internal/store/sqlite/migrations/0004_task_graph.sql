-- Task graphs: a job splits into prepare, one transcribe task per chunk and
-- a merge. A task waits for its parents (a JSON array of task ids) to
-- succeed; a transcribe task records its chunk ({index, start, end, key});
-- started_at is when the current lease began (INTEGER microseconds since
-- the Unix epoch). Jobs count their chunks.

ALTER TABLE tasks ADD COLUMN parents TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN chunk TEXT;
ALTER TABLE tasks ADD COLUMN started_at INTEGER;
ALTER TABLE jobs ADD COLUMN chunks_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN chunks_done INTEGER NOT NULL DEFAULT 0;
