-- More statistics rollups (store/stats.go), at the same resolutions as
-- job_stats (res 1, 15 and 60 minutes; minute in Unix minutes).

-- Jobs that failed, per tenant, bucket and error code; written with the
-- change that fails the job, sharded like job_stats.
CREATE TABLE error_stats (
    res    INTEGER  NOT NULL,
    minute INTEGER  NOT NULL,
    tenant TEXT     NOT NULL,
    code   TEXT     NOT NULL,
    shard  INTEGER  NOT NULL DEFAULT 0,
    n      INTEGER  NOT NULL DEFAULT 0,
    PRIMARY KEY (res, minute, tenant, code, shard)
);

-- The fleet's load, sampled by the leader's sweeper every few seconds: per
-- bucket the number of samples and the sums of the slots busy (tasks held
-- by online agents) and offered (slots of online agents). One writer, so
-- no shard.
CREATE TABLE fleet_stats (
    res     INTEGER  NOT NULL,
    minute  INTEGER  NOT NULL,
    samples INTEGER  NOT NULL DEFAULT 0,
    busy    INTEGER  NOT NULL DEFAULT 0,
    slots   INTEGER  NOT NULL DEFAULT 0,
    PRIMARY KEY (res, minute)
);
