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
    res           smallint NOT NULL,
    minute        bigint NOT NULL,
    tenant        text   NOT NULL,
    shard         smallint NOT NULL DEFAULT 0,
    submitted     integer NOT NULL DEFAULT 0,
    succeeded     integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    canceled      integer NOT NULL DEFAULT 0,
    queued        integer NOT NULL DEFAULT 0,
    audio_seconds double precision NOT NULL DEFAULT 0,
    run_seconds   double precision NOT NULL DEFAULT 0,
    w0 integer NOT NULL DEFAULT 0,
    w1 integer NOT NULL DEFAULT 0,
    w2 integer NOT NULL DEFAULT 0,
    w3 integer NOT NULL DEFAULT 0,
    w4 integer NOT NULL DEFAULT 0,
    w5 integer NOT NULL DEFAULT 0,
    w6 integer NOT NULL DEFAULT 0,
    w7 integer NOT NULL DEFAULT 0,
    w8 integer NOT NULL DEFAULT 0,
    w9 integer NOT NULL DEFAULT 0,
    w10 integer NOT NULL DEFAULT 0,
    w11 integer NOT NULL DEFAULT 0,
    w12 integer NOT NULL DEFAULT 0,
    w13 integer NOT NULL DEFAULT 0,
    w14 integer NOT NULL DEFAULT 0,
    w15 integer NOT NULL DEFAULT 0,
    w16 integer NOT NULL DEFAULT 0,
    w17 integer NOT NULL DEFAULT 0,
    w18 integer NOT NULL DEFAULT 0,
    w19 integer NOT NULL DEFAULT 0,
    p0 integer NOT NULL DEFAULT 0,
    p1 integer NOT NULL DEFAULT 0,
    p2 integer NOT NULL DEFAULT 0,
    p3 integer NOT NULL DEFAULT 0,
    p4 integer NOT NULL DEFAULT 0,
    p5 integer NOT NULL DEFAULT 0,
    p6 integer NOT NULL DEFAULT 0,
    p7 integer NOT NULL DEFAULT 0,
    p8 integer NOT NULL DEFAULT 0,
    p9 integer NOT NULL DEFAULT 0,
    p10 integer NOT NULL DEFAULT 0,
    p11 integer NOT NULL DEFAULT 0,
    p12 integer NOT NULL DEFAULT 0,
    p13 integer NOT NULL DEFAULT 0,
    p14 integer NOT NULL DEFAULT 0,
    p15 integer NOT NULL DEFAULT 0,
    p16 integer NOT NULL DEFAULT 0,
    p17 integer NOT NULL DEFAULT 0,
    p18 integer NOT NULL DEFAULT 0,
    p19 integer NOT NULL DEFAULT 0,
    PRIMARY KEY (res, minute, tenant, shard)
);

-- Leases each agent ended per tenant and bucket, at the same resolutions.
CREATE TABLE agent_stats (
    res       smallint NOT NULL,
    minute    bigint NOT NULL,
    agent_id  text   NOT NULL,
    tenant    text   NOT NULL,
    shard     smallint NOT NULL DEFAULT 0,
    succeeded integer NOT NULL DEFAULT 0,
    failed    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (res, minute, agent_id, tenant, shard)
);

-- Jobs in each status per tenant, kept by the same writes.
CREATE TABLE job_totals (
    tenant text   NOT NULL,
    status text   NOT NULL,
    shard  smallint NOT NULL DEFAULT 0,
    n      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, status, shard)
);
INSERT INTO job_totals (tenant, status, shard, n) SELECT tenant, status, 0, count(*) FROM jobs GROUP BY tenant, status;
