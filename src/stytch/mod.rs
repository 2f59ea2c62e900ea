//! Stytch: the API calls the worker makes ([`api`]).

pub mod api;
