//! The compact form in which the glue carries a request or response head across the
//! WASM/JavaScript boundary in one crossing (`src/runtime/glue.js`): fields separated by `\n`
//! (HTTP forbids line breaks in methods, URLs and header values), an absent header as `\0`.
//! Pure string handling, so it is tested and fuzzed natively like the rest of the core.

/// The headers the body cap needs, read besides those the core asks for.
pub const BODY_HEADERS: [&str; 2] = ["content-length", "content-encoding"];

/// What `glue.js` writes for a header the message does not have.
pub const ABSENT: &str = "\0";

/// Pairs header values with their names, leaving out absent ones. Values past the names are
/// ignored; names past the values count as absent.
pub fn named_values<'a>(
    names: &[&'static str],
    values: impl Iterator<Item = &'a str>,
) -> Vec<(String, String)> {
    names
        .iter()
        .zip(values)
        .filter(|(_, v)| *v != ABSENT)
        .map(|(name, v)| ((*name).to_owned(), v.to_owned()))
        .collect()
}

/// A request head as `request_head` in `glue.js` writes it: method, URL, then the value of each
/// header of `names`.
pub fn split_request_head(
    head: &str,
    names: &[&'static str],
) -> (String, String, Vec<(String, String)>) {
    let mut fields = head.split('\n');
    let method = fields.next().unwrap_or_default().to_owned();
    let url = fields.next().unwrap_or_default().to_owned();
    (method, url, named_values(names, fields))
}

/// A response head as `response_head` in `glue.js` writes it: the status, then the value of
/// each header of `names`. `None` for a status that is not a number.
pub fn split_response_head(
    head: &str,
    names: &[&'static str],
) -> (Option<u16>, Vec<(String, String)>) {
    let mut fields = head.split('\n');
    let status = fields.next().and_then(|s| s.parse::<u16>().ok());
    (status, named_values(names, fields))
}

/// Header names and values alternating, `\n`-separated, as `new_response` and `send` in
/// `glue.js` take them. A line break inside a name or value would shift the fields (and the
/// runtime refuses such a header anyway): `None`.
pub fn header_lines<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut out = String::new();
    for (name, value) in headers {
        if name.contains('\n') || value.contains('\n') {
            return None;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(name);
        out.push('\n');
        out.push_str(value);
    }
    Some(out)
}

/// Header names and values alternating, `\n`-separated (what [`header_lines`] writes), as
/// pairs, names lower-cased. A trailing name without a value is dropped.
pub fn header_pairs(lines: &str) -> Vec<(String, String)> {
    let mut fields = lines.split('\n');
    let mut out = Vec::new();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if !name.is_empty() {
            out.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    out
}

/// The body's exact length, when the headers give it: a `Content-Length` with no
/// `Content-Encoding` (or `identity`). With an encoding the runtime decodes the body as it is
/// read but keeps the encoded `Content-Length` (checked in workerd: `gzip`, 5 KB declared,
/// megabytes read), so the declared length says nothing about what will be read.
pub fn exact_length(headers: &[(String, String)]) -> Option<usize> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    };
    match header("content-encoding") {
        None => {}
        Some(e) if e.is_empty() || e.eq_ignore_ascii_case("identity") => {}
        Some(_) => return None,
    }
    header("content-length").and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["origin", "content-length", "content-encoding"];

    #[test]
    fn heads_split_into_their_fields() {
        let (method, url, headers) = split_request_head(
            "POST\nhttps://a.example/api\nhttps://b.example\n\0\n\0",
            &NAMES,
        );
        assert_eq!(
            (method.as_str(), url.as_str()),
            ("POST", "https://a.example/api")
        );
        assert_eq!(
            headers,
            [("origin".to_owned(), "https://b.example".to_owned())]
        );
        let (status, headers) = split_response_head("200\n\0\n12\ngzip", &NAMES);
        assert_eq!(status, Some(200));
        assert_eq!(headers.len(), 2);
        assert_eq!(split_response_head("abc", &NAMES).0, None);
        assert_eq!(
            split_request_head("", &NAMES),
            (String::new(), String::new(), vec![])
        );
    }

    #[test]
    fn a_length_is_exact_only_without_an_encoding() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(exact_length(&h(&[("content-length", "12")])), Some(12));
        assert_eq!(
            exact_length(&h(&[
                ("content-length", "12"),
                ("content-encoding", "identity")
            ])),
            Some(12)
        );
        assert_eq!(
            exact_length(&h(&[
                ("content-length", "12"),
                ("content-encoding", "gzip")
            ])),
            None
        );
        assert_eq!(
            exact_length(&h(&[("content-length", "12"), ("content-encoding", "br")])),
            None
        );
        assert_eq!(
            exact_length(&h(&[("content-encoding", "")])),
            None,
            "no length"
        );
        assert_eq!(exact_length(&h(&[("content-length", "-1")])), None);
    }

    #[test]
    fn header_lines_refuse_line_breaks() {
        assert_eq!(
            header_lines([("a", "1"), ("b", "2")].into_iter()).as_deref(),
            Some("a\n1\nb\n2")
        );
        assert_eq!(header_lines([("a", "1\n2")].into_iter()), None);
        assert_eq!(header_lines([("a\n", "1")].into_iter()), None);
    }
}
