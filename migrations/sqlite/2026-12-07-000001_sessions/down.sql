DROP TRIGGER session_stamp_sessions_end;
DROP TABLE sessions;
