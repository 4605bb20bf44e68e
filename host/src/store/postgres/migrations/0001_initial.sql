-- wasmhook's first schema: every record as its serde JSON text (`record`,
-- the exact bytes the embedded store keeps) beside the columns queries
-- need. Tenant-owned tables carry `tenant`; per-tenant listings are
-- indexed (tenant, ...). Ids are the 16 bytes of their ULID (time-ordered),
-- times epoch milliseconds. Names compare bytewise (COLLATE "C"), as the
-- embedded store orders them.

CREATE TABLE tenants (
    name text COLLATE "C" PRIMARY KEY,
    record text NOT NULL
);

CREATE TABLE api_keys (
    id bytea PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    hash text NOT NULL,
    revoked_at bigint,
    record text NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, id);

CREATE TABLE audit (
    tenant text COLLATE "C" NOT NULL,
    id bytea NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE plugins (
    name text COLLATE "C" PRIMARY KEY,
    owner text COLLATE "C",
    world text NOT NULL,
    record text NOT NULL
);

CREATE TABLE plugin_versions (
    name text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    sha256 text NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX plugin_versions_sha256 ON plugin_versions (sha256);

-- Component bytes, once per content hash.
CREATE TABLE plugin_blobs (
    sha256 text PRIMARY KEY,
    bytes bytea NOT NULL
);

-- Source names are unique across tenants (a vendor's URL is /ingest/{name}).
CREATE TABLE sources (
    name text COLLATE "C" PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    mapper text COLLATE "C" NOT NULL,
    record text NOT NULL
);
CREATE INDEX sources_tenant ON sources (tenant, name);
CREATE INDEX sources_mapper ON sources (mapper);

CREATE TABLE endpoints (
    id bytea PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    renderer text COLLATE "C" NOT NULL,
    connector bytea,
    record text NOT NULL
);
CREATE INDEX endpoints_tenant ON endpoints (tenant, id);
CREATE INDEX endpoints_renderer ON endpoints (renderer);
CREATE INDEX endpoints_connector ON endpoints (tenant, connector) WHERE connector IS NOT NULL;

CREATE TABLE connectors (
    id bytea PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    record text NOT NULL,
    UNIQUE (tenant, name)
);
CREATE INDEX connectors_tenant ON connectors (tenant, id);

-- Live and soft-deleted blocks; a deleted block keeps its name taken.
CREATE TABLE blocks (
    tenant text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    plugin text COLLATE "C" NOT NULL,
    connector_name text COLLATE "C",
    record text NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE INDEX blocks_plugin ON blocks (plugin);
CREATE INDEX blocks_connector ON blocks (tenant, connector_name) WHERE connector_name IS NOT NULL;

-- Bumped by every configuration write with its kind, in the write's
-- transaction: what a node compares to know what changed while it did not
-- listen (NOTIFY is not kept for a node that is away).
CREATE TABLE config_versions (
    kind text PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO config_versions (kind, version) VALUES
    ('tenants', 0), ('plugins', 0), ('sources', 0), ('endpoints', 0),
    ('connectors', 0), ('blocks', 0);

-- Canonical events; `record` is the canonical shape alone (its tenant is
-- the column).
CREATE TABLE events (
    id bytea PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    record text NOT NULL
);
CREATE INDEX events_tenant ON events (tenant, id);

-- A vendor resend's key → the first event's id.
CREATE TABLE dedupe (
    key bytea PRIMARY KEY,
    event bytea NOT NULL
);
CREATE INDEX dedupe_event ON dedupe (event);

-- `waiting`: pending, or failed and holding what is ordered behind it.
CREATE TABLE deliveries (
    id bytea PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    endpoint bytea NOT NULL,
    event bytea NOT NULL,
    state text NOT NULL,
    waiting boolean NOT NULL,
    ordering_key text,
    next_attempt_at bigint,
    record text NOT NULL
);
-- The due index: pending deliveries per endpoint by due time.
CREATE INDEX deliveries_due ON deliveries (endpoint, next_attempt_at, id)
    WHERE state = 'pending';
-- Each endpoint's waiting deliveries in event order (strict heads).
CREATE INDEX deliveries_waiting ON deliveries (endpoint, event) WHERE waiting;
-- Each key's waiting deliveries in event order (key heads).
CREATE INDEX deliveries_key_waiting ON deliveries (endpoint, ordering_key, event)
    WHERE waiting AND ordering_key IS NOT NULL;
-- Whether an event still has a delivery waiting on it (retention).
CREATE INDEX deliveries_event_waiting ON deliveries (event) WHERE waiting;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint, id);
CREATE INDEX deliveries_tenant ON deliveries (tenant, id);

CREATE TABLE attempts (
    delivery bytea NOT NULL,
    number integer NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (delivery, number)
);

CREATE TABLE rejected (
    id bytea PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    state text NOT NULL,
    record text NOT NULL
);
CREATE INDEX rejected_source ON rejected (tenant, source, id);
CREATE INDEX rejected_tenant ON rejected (tenant, id);
