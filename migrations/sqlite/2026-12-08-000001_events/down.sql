ALTER TABLE pools DROP COLUMN degraded_below;
ALTER TABLE pools DROP COLUMN health;
DROP TABLE event_attempts;
DROP TABLE event_deliveries;
DROP TABLE events;
DROP TABLE event_endpoints;
