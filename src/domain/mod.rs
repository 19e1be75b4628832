//! Pure types and rules of wabapool: no IO, so every rule is tested in
//! microseconds.

pub mod events;
pub mod ids;
pub mod number;
pub mod password_policy;
pub mod phone;
pub mod pool;
pub mod pool_name;
pub mod role;
pub mod rotation;
pub mod throttle;
pub mod waba;

pub use ids::{AggregatorId, EnterpriseId, NumberId, PoolId, UserId, WabaId};
pub use number::{NumberStatus, QualityRating, ThroughputLevel};
pub use phone::E164;
pub use pool::{MAX_POOL_NUMBERS, MIN_ACTIVATED_NUMBERS, NumberSelection, PoolCandidate};
pub use pool_name::PoolName;
pub use role::{Role, Scope};
pub use rotation::{OutOfRotation, out_of_rotation};
pub use waba::WabaStatus;
