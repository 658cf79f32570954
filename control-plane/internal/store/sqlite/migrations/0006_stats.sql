-- Statistics rollups (store/stats.go), written in the transactions of the
-- job changes that cause them, so that reading statistics sums a window's
-- buckets instead of scanning jobs. shard spreads concurrent writers of one
-- tenant's current bucket over several rows; readers sum the shards.

-- Per tenant and bucket of res minutes (1, 15 and 60: the windows'
-- resolutions, each change counted in all three) starting at minute (Unix
-- minutes): jobs submitted and finished, the net change of queued jobs,
-- media and processing seconds of jobs that succeeded with a transcript of
-- their own, and histograms of queue wait (w*) and processing time (p*) in
-- bins doubling from 100 ms. Counters are 32-bit: a bucket's row of one
-- shard never nears 2^31, and PostgreSQL sums them faster than bigints.
CREATE TABLE job_stats (
    res           INTEGER NOT NULL,
    minute        INTEGER NOT NULL,
    tenant        TEXT   NOT NULL,
    shard         INTEGER NOT NULL DEFAULT 0,
    submitted     INTEGER NOT NULL DEFAULT 0,
    succeeded     INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    canceled      INTEGER NOT NULL DEFAULT 0,
    queued        INTEGER NOT NULL DEFAULT 0,
    audio_seconds REAL NOT NULL DEFAULT 0,
    run_seconds   REAL NOT NULL DEFAULT 0,
    w0 INTEGER NOT NULL DEFAULT 0,
    w1 INTEGER NOT NULL DEFAULT 0,
    w2 INTEGER NOT NULL DEFAULT 0,
    w3 INTEGER NOT NULL DEFAULT 0,
    w4 INTEGER NOT NULL DEFAULT 0,
    w5 INTEGER NOT NULL DEFAULT 0,
    w6 INTEGER NOT NULL DEFAULT 0,
    w7 INTEGER NOT NULL DEFAULT 0,
    w8 INTEGER NOT NULL DEFAULT 0,
    w9 INTEGER NOT NULL DEFAULT 0,
    w10 INTEGER NOT NULL DEFAULT 0,
    w11 INTEGER NOT NULL DEFAULT 0,
    w12 INTEGER NOT NULL DEFAULT 0,
    w13 INTEGER NOT NULL DEFAULT 0,
    w14 INTEGER NOT NULL DEFAULT 0,
    w15 INTEGER NOT NULL DEFAULT 0,
    w16 INTEGER NOT NULL DEFAULT 0,
    w17 INTEGER NOT NULL DEFAULT 0,
    w18 INTEGER NOT NULL DEFAULT 0,
    w19 INTEGER NOT NULL DEFAULT 0,
    p0 INTEGER NOT NULL DEFAULT 0,
    p1 INTEGER NOT NULL DEFAULT 0,
    p2 INTEGER NOT NULL DEFAULT 0,
    p3 INTEGER NOT NULL DEFAULT 0,
    p4 INTEGER NOT NULL DEFAULT 0,
    p5 INTEGER NOT NULL DEFAULT 0,
    p6 INTEGER NOT NULL DEFAULT 0,
    p7 INTEGER NOT NULL DEFAULT 0,
    p8 INTEGER NOT NULL DEFAULT 0,
    p9 INTEGER NOT NULL DEFAULT 0,
    p10 INTEGER NOT NULL DEFAULT 0,
    p11 INTEGER NOT NULL DEFAULT 0,
    p12 INTEGER NOT NULL DEFAULT 0,
    p13 INTEGER NOT NULL DEFAULT 0,
    p14 INTEGER NOT NULL DEFAULT 0,
    p15 INTEGER NOT NULL DEFAULT 0,
    p16 INTEGER NOT NULL DEFAULT 0,
    p17 INTEGER NOT NULL DEFAULT 0,
    p18 INTEGER NOT NULL DEFAULT 0,
    p19 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (res, minute, tenant, shard)
);

-- Leases each agent ended per tenant and bucket, at the same resolutions.
CREATE TABLE agent_stats (
    res       INTEGER NOT NULL,
    minute    INTEGER NOT NULL,
    agent_id  TEXT   NOT NULL,
    tenant    TEXT   NOT NULL,
    shard     INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (res, minute, agent_id, tenant, shard)
);

-- Jobs in each status per tenant, kept by the same writes.
CREATE TABLE job_totals (
    tenant TEXT   NOT NULL,
    status TEXT   NOT NULL,
    shard  INTEGER NOT NULL DEFAULT 0,
    n      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, status, shard)
);
INSERT INTO job_totals (tenant, status, shard, n) SELECT tenant, status, 0, count(*) FROM jobs GROUP BY tenant, status;
