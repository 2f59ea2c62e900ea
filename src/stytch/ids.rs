//! Identifiers from Stytch: kept only when they look like one, because they may reach a
//! response body, a cookie decision or a log line.

/// Keeps an identifier from Stytch only if it looks like one (it may end up in a response
/// body and in logs): ASCII letters, digits, `-` and `_`, at most 96 characters.
pub fn clean_id(v: Option<&str>) -> Option<String> {
    v.filter(|s| {
        !s.is_empty()
            && s.len() <= 96
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
    .map(str::to_owned)
}
