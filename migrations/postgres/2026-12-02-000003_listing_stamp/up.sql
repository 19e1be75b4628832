-- One number that every change the pool listing shows moves on: pools,
-- their members, the members' numbers and WABAs, enterprises. A cached
-- listing is served only while the stamp it was read under is current.
-- The triggers fire once a statement. The columns a send writes (the round
-- robin pointer, a member's counts, weights, cool-down and last use) are
-- left out: sends never move it.
CREATE TABLE listing_stamp (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    stamp BIGINT NOT NULL
);
INSERT INTO listing_stamp (id, stamp) VALUES (1, 0);
CREATE FUNCTION bump_listing_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE listing_stamp SET stamp = stamp + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER listing_stamp_pools_insert AFTER INSERT ON pools
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_pools_delete AFTER DELETE ON pools
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_pools_update AFTER UPDATE OF enterprise_id, name, name_key, active, version ON pools
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_pool_members_insert AFTER INSERT ON pool_members
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_pool_members_delete AFTER DELETE ON pool_members
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_pool_members_update AFTER UPDATE OF pool_id, number_id, slot ON pool_members
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_numbers_insert AFTER INSERT ON numbers
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_numbers_delete AFTER DELETE ON numbers
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_numbers_update AFTER UPDATE OF waba_id, enterprise_id, display_phone_number, verified_name, status, quality_rating, out_of_rotation_since ON numbers
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_wabas_delete AFTER DELETE ON wabas
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_wabas_update AFTER UPDATE OF status, status_changed_at, status_reason ON wabas
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_enterprises_insert AFTER INSERT ON enterprises
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_enterprises_delete AFTER DELETE ON enterprises
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
CREATE TRIGGER listing_stamp_enterprises_update AFTER UPDATE OF name, aggregator_id ON enterprises
FOR EACH STATEMENT EXECUTE FUNCTION bump_listing_stamp();
