-- One number that every change a signed-in session is checked against
-- moves on: a user's email, role, organisation, disabled flag and session
-- epoch, a user removed, and the name of their enterprise or aggregator.
-- A signed-in user kept in memory is trusted only while the stamp it was
-- read under is current. Signing in writes none of these columns.
CREATE TABLE session_stamp (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    stamp BIGINT NOT NULL
);
INSERT INTO session_stamp (id, stamp) VALUES (1, 0);
CREATE TRIGGER session_stamp_users_delete AFTER DELETE ON users
BEGIN UPDATE session_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER session_stamp_users_update AFTER UPDATE OF email, role, enterprise_id, aggregator_id, disabled, session_epoch ON users
BEGIN UPDATE session_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER session_stamp_enterprises_delete AFTER DELETE ON enterprises
BEGIN UPDATE session_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER session_stamp_enterprises_update AFTER UPDATE OF name ON enterprises
BEGIN UPDATE session_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER session_stamp_aggregators_delete AFTER DELETE ON aggregators
BEGIN UPDATE session_stamp SET stamp = stamp + 1; END;
CREATE TRIGGER session_stamp_aggregators_update AFTER UPDATE OF name ON aggregators
BEGIN UPDATE session_stamp SET stamp = stamp + 1; END;
