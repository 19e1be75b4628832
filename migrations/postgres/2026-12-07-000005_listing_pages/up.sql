-- A listing page is read in order from an index and stops after its rows:
-- by name across an aggregator's enterprises, and active ones first. The
-- audit log's pages are read newest first within an enterprise.
CREATE INDEX pools_name_key_id_idx ON pools (name_key, id);
CREATE INDEX pools_active_name_key_id_idx ON pools (active, name_key, id);
CREATE INDEX audit_entries_enterprise_id_idx ON audit_entries (enterprise_id, id);
