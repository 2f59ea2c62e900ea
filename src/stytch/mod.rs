//! Stytch: the project the worker talks to ([`project`]), the API calls it makes ([`api`]),
//! the session the browser already holds and the rules for reusing it ([`session`]), for B2B
//! projects the organization a member session is in ([`organization`]), and the identifiers
//! Stytch answers with ([`ids`]).

pub mod api;
pub mod ids;
pub mod organization;
pub mod project;
pub mod session;
