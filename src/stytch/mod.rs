//! Stytch: the API calls the worker makes ([`api`]), and the session the browser already
//! holds ([`session`]).

pub mod api;
pub mod session;
