//! What an instance keeps in memory from the database: values read under a
//! change stamp and served only while that stamp is unchanged (the pool
//! listings and the signed-in sessions).

pub mod listing;
pub mod sessions;
pub mod stamped;
