-- Each member's sends in the current second: the throughput check reads
-- them with the member instead of counting the send log, and a send
-- reserves its place in the same write that takes its turn. A number is in
-- at most one pool (R6), so a member's count is its number's.
ALTER TABLE pool_members ADD COLUMN sent_second BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pool_members ADD COLUMN sent_in_second INTEGER NOT NULL DEFAULT 0;

-- A send asks which numbers have a window open with its recipient.
CREATE INDEX service_windows_recipient_idx ON service_windows (recipient, expires_at);
