DROP TABLE pending_upgrades;
DROP INDEX webhook_deliveries_received_at;
DROP TABLE webhook_deliveries;
ALTER TABLE numbers DROP COLUMN health_as_of;
ALTER TABLE wabas DROP COLUMN status_as_of;
