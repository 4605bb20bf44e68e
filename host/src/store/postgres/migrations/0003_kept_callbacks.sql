-- Accepted callbacks kept whole for the callback retention, with the
-- events they became (in `record`), so a new build of a source's mapper can
-- be replayed over them. Listed per source newest first; expired by id
-- (time order), per tenant when its retention is shorter.
CREATE TABLE kept_callbacks (
    id bytea PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    record text NOT NULL
);
CREATE INDEX kept_callbacks_source ON kept_callbacks (tenant, source, id);
