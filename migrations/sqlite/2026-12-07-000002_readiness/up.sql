-- One row that `/readyz` rewrites: an instance is ready only while a write
-- to the database can be committed (a full disk or a read-only database
-- fails here, where a read would still answer).
CREATE TABLE readiness (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    probes BIGINT NOT NULL
);
INSERT INTO readiness (id, probes) VALUES (1, 0);
