DROP TRIGGER session_stamp_users_delete ON users;
DROP TRIGGER session_stamp_users_update ON users;
DROP TRIGGER session_stamp_enterprises_delete ON enterprises;
DROP TRIGGER session_stamp_enterprises_update ON enterprises;
DROP TRIGGER session_stamp_aggregators_delete ON aggregators;
DROP TRIGGER session_stamp_aggregators_update ON aggregators;
DROP FUNCTION bump_session_stamp();
DROP TABLE session_stamp;
