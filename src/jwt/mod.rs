//! Compact JWS tokens: [`token::UnverifiedToken`] is all that can be read before the
//! signature is checked, and [`verify::verify`] is the only way to a
//! [`verify::VerifiedToken`].

pub mod assurance;
pub mod claims;
pub mod token;
pub mod verify;
