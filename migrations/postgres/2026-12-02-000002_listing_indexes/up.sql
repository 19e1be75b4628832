-- The listing reads a page's members by pool and slot and needs only their
-- number: with it in the index, no pool_members row is read. The enterprise
-- picker reads an aggregator's enterprises by name: in index order, no sort.
CREATE INDEX pool_members_pool_slot_number_idx ON pool_members (pool_id, slot, number_id);
CREATE INDEX enterprises_aggregator_name_idx ON enterprises (aggregator_id, name, id);
