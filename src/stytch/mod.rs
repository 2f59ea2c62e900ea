//! Stytch: the API calls the worker makes ([`api`]), the session the browser already holds
//! ([`session`]), and for B2B projects the organization a member session is in
//! ([`organization`]).

pub mod api;
pub mod organization;
pub mod session;
