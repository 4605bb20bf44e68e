-- Leases: which node is attempting a delivery, and until when (the
-- database's clock, epoch ms). A claim skips a delivery whose lease has not
-- ended; recording the attempt ends it; a node that dies leaves its leases
-- to run out, and any node then takes the deliveries over.
-- `answered_at`: when its last attempt was recorded (the database's clock,
-- epoch ms): a rate limit counts requests answered within the last second
-- besides those in flight, as the receiver may have seen them at once.
ALTER TABLE deliveries ADD COLUMN lease_node text, ADD COLUMN lease_until bigint,
    ADD COLUMN answered_at bigint;
-- Each endpoint's deliveries in flight somewhere (cluster-wide caps).
CREATE INDEX deliveries_leased ON deliveries (endpoint, lease_until)
    WHERE lease_until IS NOT NULL;

CREATE INDEX deliveries_answered ON deliveries (endpoint, answered_at)
    WHERE answered_at IS NOT NULL;

-- Each rate-limited endpoint's pace across nodes: the earliest time (the
-- database's clock, epoch µs) the next request may start.
CREATE TABLE endpoint_pace (
    endpoint bytea PRIMARY KEY,
    next_start_us bigint NOT NULL
);
