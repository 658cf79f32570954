-- Room on each page for HOT updates: a job's stage and progress change
-- with every heartbeat, and an update that touches no indexed column can
-- stay on its page without new index entries when the page has space.
ALTER TABLE jobs SET (fillfactor = 80);
