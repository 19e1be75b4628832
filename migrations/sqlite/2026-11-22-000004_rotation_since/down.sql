ALTER TABLE wabas DROP COLUMN status_reason;
ALTER TABLE wabas DROP COLUMN status_changed_at;
ALTER TABLE numbers DROP COLUMN out_of_rotation_since;
