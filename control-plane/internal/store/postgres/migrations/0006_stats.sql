-- Statistics rollups (store/stats.go), written in the transactions of the
-- job changes that cause them, so that reading statistics sums a window's
-- minutes of rows instead of scanning jobs. shard spreads concurrent writers
-- of one tenant's current minute over several rows; readers sum the shards.

-- Per tenant and minute (Unix minutes): jobs submitted and finished, the
-- net change of queued jobs, media and processing seconds of jobs that
-- succeeded with a transcript of their own, and histograms of queue wait
-- (w*) and processing time (p*) in bins doubling from 100 ms.
CREATE TABLE job_stats (
    minute        bigint NOT NULL,
    tenant        text   NOT NULL,
    shard         smallint NOT NULL DEFAULT 0,
    submitted     bigint NOT NULL DEFAULT 0,
    succeeded     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    canceled      bigint NOT NULL DEFAULT 0,
    queued        bigint NOT NULL DEFAULT 0,
    audio_seconds double precision NOT NULL DEFAULT 0,
    run_seconds   double precision NOT NULL DEFAULT 0,
    w0 bigint NOT NULL DEFAULT 0,
    w1 bigint NOT NULL DEFAULT 0,
    w2 bigint NOT NULL DEFAULT 0,
    w3 bigint NOT NULL DEFAULT 0,
    w4 bigint NOT NULL DEFAULT 0,
    w5 bigint NOT NULL DEFAULT 0,
    w6 bigint NOT NULL DEFAULT 0,
    w7 bigint NOT NULL DEFAULT 0,
    w8 bigint NOT NULL DEFAULT 0,
    w9 bigint NOT NULL DEFAULT 0,
    w10 bigint NOT NULL DEFAULT 0,
    w11 bigint NOT NULL DEFAULT 0,
    w12 bigint NOT NULL DEFAULT 0,
    w13 bigint NOT NULL DEFAULT 0,
    w14 bigint NOT NULL DEFAULT 0,
    w15 bigint NOT NULL DEFAULT 0,
    w16 bigint NOT NULL DEFAULT 0,
    w17 bigint NOT NULL DEFAULT 0,
    w18 bigint NOT NULL DEFAULT 0,
    w19 bigint NOT NULL DEFAULT 0,
    p0 bigint NOT NULL DEFAULT 0,
    p1 bigint NOT NULL DEFAULT 0,
    p2 bigint NOT NULL DEFAULT 0,
    p3 bigint NOT NULL DEFAULT 0,
    p4 bigint NOT NULL DEFAULT 0,
    p5 bigint NOT NULL DEFAULT 0,
    p6 bigint NOT NULL DEFAULT 0,
    p7 bigint NOT NULL DEFAULT 0,
    p8 bigint NOT NULL DEFAULT 0,
    p9 bigint NOT NULL DEFAULT 0,
    p10 bigint NOT NULL DEFAULT 0,
    p11 bigint NOT NULL DEFAULT 0,
    p12 bigint NOT NULL DEFAULT 0,
    p13 bigint NOT NULL DEFAULT 0,
    p14 bigint NOT NULL DEFAULT 0,
    p15 bigint NOT NULL DEFAULT 0,
    p16 bigint NOT NULL DEFAULT 0,
    p17 bigint NOT NULL DEFAULT 0,
    p18 bigint NOT NULL DEFAULT 0,
    p19 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, tenant, shard)
);

-- Leases each agent ended per tenant and minute.
CREATE TABLE agent_stats (
    minute    bigint NOT NULL,
    agent_id  text   NOT NULL,
    tenant    text   NOT NULL,
    shard     smallint NOT NULL DEFAULT 0,
    succeeded bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, agent_id, tenant, shard)
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
