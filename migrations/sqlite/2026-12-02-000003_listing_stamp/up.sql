-- One number that every change the pool listing shows moves on: pools,
-- their members, the members' numbers and WABAs, enterprises. A cached
-- listing is served only while the stamp it was read under is current.
-- The columns a send writes (the round robin pointer, a member's counts,
-- weights, cool-down and last use) are left out: sends never move it.
CREATE TABLE listing_stamp (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    stamp BIGINT NOT NULL
);
INSERT INTO listing_stamp (id, stamp) VALUES (1, 0);
CREATE TRIGGER listing_stamp_pools_insert AFTER INSERT ON pools
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_pools_delete AFTER DELETE ON pools
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_pools_update AFTER UPDATE OF enterprise_id, name, name_key, active, version ON pools
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_pool_members_insert AFTER INSERT ON pool_members
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_pool_members_delete AFTER DELETE ON pool_members
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_pool_members_update AFTER UPDATE OF pool_id, number_id, slot ON pool_members
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_numbers_insert AFTER INSERT ON numbers
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_numbers_delete AFTER DELETE ON numbers
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_numbers_update AFTER UPDATE OF waba_id, enterprise_id, display_phone_number, verified_name, status, quality_rating, out_of_rotation_since ON numbers
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_wabas_delete AFTER DELETE ON wabas
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_wabas_update AFTER UPDATE OF status, status_changed_at, status_reason ON wabas
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_enterprises_insert AFTER INSERT ON enterprises
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_enterprises_delete AFTER DELETE ON enterprises
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER listing_stamp_enterprises_update AFTER UPDATE OF name, aggregator_id ON enterprises
BEGIN UPDATE listing_stamp SET stamp = stamp + 1; END;
