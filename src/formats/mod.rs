//! The wire formats the worker reads and writes, each strict where leniency would let one
//! value have several spellings: unpadded base64url, duplicate-free JSON, RFC 3339 and HTTP
//! dates, and the few URL shapes the configuration and the request carry.

pub mod b64;
pub mod json;
pub mod time;
pub mod urls;
