-- One row per signed-in session, named by a random id kept in the
-- encrypted cookie and checked on every request, on every instance.
-- Signing out, signing out everywhere, a password change and disabling a
-- user set ended_at, which moves the session stamp, so an instance that
-- keeps the session's user in memory reads the row again. Signing in
-- (an insert) and last_seen_at (written at most about once a minute)
-- leave the stamp alone. The trigger fires once a row, so an UPDATE that
-- ends nothing does not move the stamp.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY CHECK (char_length(id) <= 64),
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_created_idx ON sessions (created_at);
CREATE TRIGGER session_stamp_sessions_end AFTER UPDATE OF ended_at ON sessions
FOR EACH ROW EXECUTE FUNCTION bump_session_stamp();
