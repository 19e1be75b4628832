DROP INDEX service_windows_recipient_idx;
ALTER TABLE pool_members DROP COLUMN sent_in_second;
ALTER TABLE pool_members DROP COLUMN sent_second;
