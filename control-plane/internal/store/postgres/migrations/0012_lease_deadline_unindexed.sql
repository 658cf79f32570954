-- A heartbeat rewrites its task's lease deadline, stage and progress. With
-- lease_deadline indexed, every heartbeat was a new row version with five
-- new index entries; unindexed, and with room on each page, it can stay on
-- the row's page as a HOT update with none. The sweep that looks for
-- expired leases reads the leased tasks through tasks_leased_agent instead:
-- they are as many as the fleet's running tasks, and it runs once a second
-- on one replica, not on every heartbeat.
DROP INDEX IF EXISTS tasks_leased_deadline;
ALTER TABLE tasks SET (fillfactor = 80);
