DROP TRIGGER session_stamp_sessions_end ON sessions;
DROP TABLE sessions;
