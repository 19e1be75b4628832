-- Meta's webhooks arrive late, out of order and more than once. A WABA's
-- status and a number's health each remember the moment they are known to
-- be true as of (the event's time at Meta, or a sync's); an event older
-- than that changes nothing.
ALTER TABLE wabas ADD COLUMN status_as_of TIMESTAMP;
UPDATE wabas SET status_as_of = COALESCE(last_synced_at, status_changed_at, created_at);
ALTER TABLE numbers ADD COLUMN health_as_of TIMESTAMP;
UPDATE numbers SET health_as_of = COALESCE(last_synced_at, created_at);

-- Deliveries already applied, by the SHA-256 of their signed body, so that
-- Meta's redeliveries (for up to 7 days) are acknowledged and skipped.
-- Rows older than the redelivery window are pruned.
CREATE TABLE webhook_deliveries (
    body_sha256 TEXT PRIMARY KEY NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);

-- Work the application does once after an upgrade, in code, because SQL
-- cannot: re-keying pool names to NFKC + lowercase.
CREATE TABLE pending_upgrades (
    name TEXT PRIMARY KEY NOT NULL
);
INSERT INTO pending_upgrades (name) VALUES ('pool_name_keys');
