-- When a number or WABA left rotation, and why, for the pool pages.
ALTER TABLE numbers ADD COLUMN out_of_rotation_since TIMESTAMP;
ALTER TABLE wabas ADD COLUMN status_changed_at TIMESTAMP;
ALTER TABLE wabas ADD COLUMN status_reason TEXT;
