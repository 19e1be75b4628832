-- Routing: API keys, per-pool strategy and pointer, per-member routing
-- settings and state, the send log, sticky senders and service windows.

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    label         TEXT NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
    key_hash      TEXT NOT NULL,
    key_prefix    TEXT NOT NULL,
    created_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    revoked_at    TIMESTAMP
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_enterprise_idx ON api_keys (enterprise_id);

ALTER TABLE pools ADD COLUMN strategy TEXT NOT NULL DEFAULT 'round_robin' CHECK (strategy IN ('round_robin', 'priority', 'weighted', 'least_recently_used'));
ALTER TABLE pools ADD COLUMN strict_routing BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE pools ADD COLUMN rr_pointer INTEGER NOT NULL DEFAULT 0;

ALTER TABLE pool_members ADD COLUMN priority INTEGER NOT NULL DEFAULT 50 CHECK (priority BETWEEN 1 AND 100);
ALTER TABLE pool_members ADD COLUMN weight INTEGER NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000);
ALTER TABLE pool_members ADD COLUMN region_tags TEXT NOT NULL DEFAULT '';
ALTER TABLE pool_members ADD COLUMN department_tags TEXT NOT NULL DEFAULT '';
ALTER TABLE pool_members ADD COLUMN current_weight BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pool_members ADD COLUMN cooldown_until TIMESTAMP;
ALTER TABLE pool_members ADD COLUMN last_used_at TIMESTAMP;

ALTER TABLE wabas ADD COLUMN out_of_rotation_until TIMESTAMP;

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id          BIGINT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    enterprise_id    BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    api_key_id       BIGINT REFERENCES api_keys (id) ON DELETE SET NULL,
    number_id        BIGINT REFERENCES numbers (id) ON DELETE SET NULL,
    recipient        TEXT NOT NULL CHECK (length(recipient) BETWEEN 1 AND 20),
    message_type     TEXT NOT NULL CHECK (length(message_type) BETWEEN 1 AND 32),
    status           TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
    wamid            TEXT,
    error_code       BIGINT,
    attempts         TEXT NOT NULL,
    idempotency_key  TEXT CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    response         TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (enterprise_id, idempotency_key);
CREATE UNIQUE INDEX messages_wamid_key ON messages (wamid);
CREATE INDEX messages_pool_created_idx ON messages (pool_id, created_at);

CREATE TABLE sticky_senders (
    pool_id     BIGINT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    recipient   TEXT NOT NULL CHECK (length(recipient) BETWEEN 1 AND 20),
    number_id   BIGINT NOT NULL REFERENCES numbers (id) ON DELETE CASCADE,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (pool_id, recipient)
);

CREATE TABLE service_windows (
    number_id   BIGINT NOT NULL REFERENCES numbers (id) ON DELETE CASCADE,
    recipient   TEXT NOT NULL CHECK (length(recipient) BETWEEN 1 AND 20),
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (number_id, recipient)
);
