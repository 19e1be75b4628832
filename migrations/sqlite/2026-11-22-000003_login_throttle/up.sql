-- Failed sign-ins, counted per account and per client address across every
-- instance, for the exponential delay and the lock.
CREATE TABLE login_failures (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at  TIMESTAMP NOT NULL,
    email_key    TEXT NOT NULL CHECK (length(email_key) <= 254),
    client_ip    TEXT CHECK (length(client_ip) <= 64)
);
CREATE INDEX login_failures_email_idx ON login_failures (email_key, occurred_at);
CREATE INDEX login_failures_ip_idx ON login_failures (client_ip, occurred_at);
