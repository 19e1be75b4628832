-- Events to the business's own systems (DESIGN.md section 14). An event is
-- written in the same transaction as the change it reports (an outbox),
-- with one delivery per endpoint that wants it; deliveries are claimed,
-- attempted and settled by the delivery worker of any instance.
CREATE TABLE event_endpoints (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id          BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    url                    TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description            TEXT NOT NULL CHECK (length(description) <= 200),
    -- Space-separated event types; pool ids likewise, empty for every pool.
    event_types            TEXT NOT NULL,
    pool_ids               TEXT NOT NULL,
    secret_ciphertext      BLOB NOT NULL,
    secret_key_id          TEXT NOT NULL,
    -- The secret before the last rotation, still signing until it lapses.
    previous_ciphertext    BLOB,
    previous_key_id        TEXT,
    previous_until         TIMESTAMP,
    enabled                BOOLEAN NOT NULL,
    disabled_reason        TEXT,
    -- The first failure since the last success.
    failing_since          TIMESTAMP,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX event_endpoints_enterprise_id_idx ON event_endpoints (enterprise_id);

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id  BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    event_type     TEXT NOT NULL,
    pool_id        BIGINT,
    message_id     BIGINT,
    -- The customer (wa_id) whose events one endpoint receives in order.
    customer       TEXT,
    -- The delivered body: {"type", "timestamp", "data"}.
    body           TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX events_enterprise_id_idx ON events (enterprise_id, id);
CREATE INDEX events_message_id_idx ON events (message_id) WHERE message_id IS NOT NULL;
-- Events are kept 30 days (DESIGN.md section 14's pull API reads them).
CREATE INDEX events_created_at_idx ON events (created_at);

CREATE TABLE event_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id      BIGINT NOT NULL REFERENCES event_endpoints (id) ON DELETE CASCADE,
    event_id         BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    customer         TEXT,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    -- An instance attempting it holds it until then.
    claimed_until    TIMESTAMP,
    last_attempt_at  TIMESTAMP,
    last_status      INTEGER,
    created_at       TIMESTAMP NOT NULL
);
-- An endpoint's deliveries of one state, oldest first (the pending ones,
-- whatever it delivered before them); each customer's oldest pending one;
-- and all of them, for its page.
CREATE INDEX event_deliveries_state_idx ON event_deliveries (endpoint_id, state, id);
CREATE INDEX event_deliveries_customer_idx ON event_deliveries (endpoint_id, customer, id) WHERE state = 'pending';
CREATE INDEX event_deliveries_endpoint_idx ON event_deliveries (endpoint_id, id);

CREATE TABLE event_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   BIGINT NOT NULL REFERENCES event_deliveries (id) ON DELETE CASCADE,
    attempted_at  TIMESTAMP NOT NULL,
    status_code   INTEGER,
    latency_ms    BIGINT NOT NULL,
    -- The first bytes of the answer, or why there was none.
    answer        TEXT NOT NULL
);
CREATE INDEX event_attempts_delivery_id_idx ON event_attempts (delivery_id, id);

-- A pool's health as last reported: healthy, degraded or down; degraded
-- below this many members in rotation (NULL: below half of them).
ALTER TABLE pools ADD COLUMN health TEXT NOT NULL DEFAULT 'healthy';
ALTER TABLE pools ADD COLUMN degraded_below INTEGER CHECK (degraded_below BETWEEN 1 AND 10);
