//! Meta's Graph API: the client the services call, its types and errors,
//! and the sandbox that stands in for Meta in tests and the demo.

pub mod client;
pub mod error;
pub mod sandbox;
pub mod signature;
pub mod types;
pub mod webhook;

pub use client::GraphClient;
pub use error::GraphError;
