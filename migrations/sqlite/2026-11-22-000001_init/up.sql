-- wabapool schema, SQLite tree. Kept in step with migrations/postgres by a test.

CREATE TABLE aggregators (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX aggregators_name_key ON aggregators (name);

CREATE TABLE enterprises (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    aggregator_id  BIGINT REFERENCES aggregators (id) ON DELETE RESTRICT,
    created_at     TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX enterprises_name_key ON enterprises (name);
CREATE INDEX enterprises_aggregator_idx ON enterprises (aggregator_id);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('super_admin', 'admin', 'agent')),
    enterprise_id  BIGINT REFERENCES enterprises (id) ON DELETE RESTRICT,
    aggregator_id  BIGINT REFERENCES aggregators (id) ON DELETE RESTRICT,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE CHECK (disabled IN (0, 1)),
    session_epoch  BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    CHECK ((enterprise_id IS NULL) <> (aggregator_id IS NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE wabas (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    meta_waba_id        TEXT NOT NULL CHECK (length(meta_waba_id) BETWEEN 1 AND 32),
    business_id         TEXT,
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status              TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'reconnect_needed')),
    last_synced_at      TIMESTAMP,
    created_at          TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX wabas_meta_waba_id_key ON wabas (meta_waba_id);

CREATE TABLE waba_links (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    waba_id                 BIGINT NOT NULL REFERENCES wabas (id) ON DELETE CASCADE,
    enterprise_id           BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    access_token_ciphertext BLOB,
    access_token_key_id     TEXT,
    linked_at               TIMESTAMP NOT NULL,
    CHECK ((access_token_ciphertext IS NULL) = (access_token_key_id IS NULL))
);
CREATE UNIQUE INDEX waba_links_waba_enterprise_key ON waba_links (waba_id, enterprise_id);
CREATE INDEX waba_links_enterprise_idx ON waba_links (enterprise_id);

CREATE TABLE numbers (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    waba_id                   BIGINT NOT NULL REFERENCES wabas (id) ON DELETE CASCADE,
    enterprise_id             BIGINT REFERENCES enterprises (id) ON DELETE SET NULL,
    phone_number_id           TEXT NOT NULL CHECK (length(phone_number_id) BETWEEN 1 AND 32),
    display_phone_number      TEXT NOT NULL CHECK (length(display_phone_number) BETWEEN 1 AND 32),
    e164                      TEXT NOT NULL CHECK (length(e164) BETWEEN 2 AND 16),
    verified_name             TEXT NOT NULL DEFAULT '',
    status                    TEXT NOT NULL CHECK (status IN ('activated', 'pending', 'deactivated')),
    meta_status               TEXT,
    code_verification_status  TEXT,
    quality_rating            TEXT NOT NULL DEFAULT 'UNKNOWN',
    messaging_limit_tier      TEXT,
    throughput_level          TEXT,
    last_synced_at            TIMESTAMP,
    created_at                TIMESTAMP NOT NULL,
    updated_at                TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX numbers_phone_number_id_key ON numbers (phone_number_id);
CREATE UNIQUE INDEX numbers_id_waba_enterprise_key ON numbers (id, waba_id, enterprise_id);
CREATE INDEX numbers_enterprise_status_idx ON numbers (enterprise_id, status);
CREATE INDEX numbers_waba_idx ON numbers (waba_id);

CREATE TABLE pools (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id  BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE RESTRICT,
    waba_id        BIGINT NOT NULL REFERENCES wabas (id) ON DELETE RESTRICT,
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
    name_key       TEXT NOT NULL CHECK (length(name_key) BETWEEN 1 AND 256),
    active         BOOLEAN NOT NULL DEFAULT TRUE CHECK (active IN (0, 1)),
    version        BIGINT NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX pools_enterprise_name_key ON pools (enterprise_id, name_key);
CREATE UNIQUE INDEX pools_id_waba_enterprise_key ON pools (id, waba_id, enterprise_id);
CREATE INDEX pools_enterprise_active_idx ON pools (enterprise_id, active);

-- A member's slot is 1..10 and unique within its pool, so no write, however
-- concurrent, can put an eleventh number into a pool (R4). The composite keys
-- tie each member to its pool's enterprise and WABA (R5), and number_id is
-- unique, so a number sits in at most one pool (R6).
CREATE TABLE pool_members (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    pool_id        BIGINT NOT NULL,
    number_id      BIGINT NOT NULL,
    waba_id        BIGINT NOT NULL,
    enterprise_id  BIGINT NOT NULL,
    slot           INTEGER NOT NULL CHECK (slot BETWEEN 1 AND 10),
    added_at       TIMESTAMP NOT NULL,
    FOREIGN KEY (pool_id, waba_id, enterprise_id) REFERENCES pools (id, waba_id, enterprise_id) ON DELETE CASCADE,
    FOREIGN KEY (number_id, waba_id, enterprise_id) REFERENCES numbers (id, waba_id, enterprise_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX pool_members_number_key ON pool_members (number_id);
CREATE UNIQUE INDEX pool_members_pool_slot_key ON pool_members (pool_id, slot);

CREATE TABLE audit_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at     TIMESTAMP NOT NULL,
    actor_user_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_email     TEXT,
    enterprise_id   BIGINT REFERENCES enterprises (id) ON DELETE SET NULL,
    action          TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    subject_type    TEXT NOT NULL,
    subject_id      TEXT,
    before_state    TEXT,
    after_state     TEXT,
    client_ip       TEXT
);
CREATE INDEX audit_entries_enterprise_idx ON audit_entries (enterprise_id, occurred_at);
CREATE INDEX audit_entries_occurred_idx ON audit_entries (occurred_at);
