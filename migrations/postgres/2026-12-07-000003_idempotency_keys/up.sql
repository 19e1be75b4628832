-- An Idempotency-Key is reserved, with a hash of its request (the pool and
-- the checked message), before Meta is called: a simultaneous retry finds
-- the reservation and waits or is refused instead of sending again. The
-- message the send stored is linked once it is written; a reservation
-- without one is a send in progress, or one that crashed (taken over
-- after a while, see services::routing::RESERVATION_STALE_AFTER).
CREATE TABLE idempotency_keys (
    enterprise_id    BIGINT NOT NULL REFERENCES enterprises (id) ON DELETE CASCADE,
    idempotency_key  TEXT NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    request_hash     TEXT NOT NULL,
    message_id       BIGINT REFERENCES messages (id) ON DELETE CASCADE,
    reserved_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (enterprise_id, idempotency_key)
);
-- Keys answered before requests were hashed replay without a comparison.
INSERT INTO idempotency_keys (enterprise_id, idempotency_key, request_hash, message_id, reserved_at)
SELECT enterprise_id, idempotency_key, '', id, created_at FROM messages WHERE idempotency_key IS NOT NULL;
