#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! docs/scale.md, "The gateway": every figure of its table recomputed from the inputs table
//! above it, so an edited assumption or price cannot leave a stale total; and every input
//! says where it comes from (a source, measured, or assumed).

use std::collections::HashMap;

const DOC: &str = include_str!("../docs/scale.md");

/// The section's text, up to the next `## ` heading.
fn section() -> &'static str {
    let start = DOC
        .find("\n## The gateway\n")
        .expect("docs/scale.md has a gateway section");
    let rest = &DOC[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The cells of each table row (`| a | b |`) of `text`, header and separator rows left out.
fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("| ---"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect()
}

/// A cell's number: `$2,740` → 2740, `0.30` → 0.3.
fn number(cell: &str) -> f64 {
    let digits: String = cell
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {cell}"))
}

/// The inputs: symbol → value, and symbol → what the row says of it.
fn inputs() -> (HashMap<String, f64>, HashMap<String, String>) {
    let mut values = HashMap::new();
    let mut what = HashMap::new();
    for row in rows(section()) {
        if let [symbol, value, about] = row[..]
            && symbol.starts_with('`')
        {
            let symbol = symbol.trim_matches('`').to_owned();
            values.insert(symbol.clone(), number(value));
            what.insert(symbol, about.to_owned());
        }
    }
    (values, what)
}

/// The figures of the results table: row label → the three MAU columns.
fn figures() -> Vec<(String, [f64; 3])> {
    rows(section())
        .into_iter()
        .filter(|row| row.len() == 4 && row[0] != "per month")
        .map(|row| {
            (
                row[0].to_owned(),
                [number(row[1]), number(row[2]), number(row[3])],
            )
        })
        .collect()
}

/// Each figure of the table for `mau` monthly users, from the inputs, as the section's
/// formulas say.
fn model(v: &HashMap<String, f64>, mau: f64) -> HashMap<&'static str, f64> {
    let g = |k: &str| *v.get(k).unwrap_or_else(|| panic!("input {k} is missing"));
    let (days, million) = (30.0, 1e6);
    let dau = g("D") * mau;
    let r = dau * g("Q") * days;
    let a = g("T") * 3600.0 / g("J");
    let f = g("FR") + a / g("Q");
    let sampled = 1.0 + f + (1.0 - f) * g("S");
    let no_invocation = f + (1.0 - f) * g("S");
    let requests = r / million * g("PR");
    let cpu = r * g("C") / million * g("PC");
    let kv = g("I") * 4320.0 / million * g("PK");
    let logs_all = 2.0 * r / million * g("PL");
    let logs_sampled = r * sampled / million * g("PL");
    let logs_lean = r * no_invocation / million * g("PL");
    let routed = r * (1.0 - g("P"));
    let lean = routed * (g("PR") + g("C") * g("PC") + no_invocation * g("PL")) / million + kv;
    let peak_rps = r / days / 86_400.0 * g("PEAK");
    HashMap::from([
        ("gateway requests (millions)", r / million),
        ("Workers requests ($)", requests),
        ("Workers CPU ($)", cpu),
        ("Workers Logs, every line ($)", logs_all),
        ("Workers Logs, sampled ($)", logs_sampled),
        ("Workers Logs, sampled, no invocation logs ($)", logs_lean),
        ("KV reads ($)", kv),
        (
            "total, every line logged ($)",
            requests + cpu + logs_all + kv,
        ),
        ("total, sampled ($)", requests + cpu + logs_sampled + kv),
        (
            "total, sampled, no invocation logs ($)",
            requests + cpu + logs_lean + kv,
        ),
        ("total, lean ($)", lean),
        (
            "public requests reaching the app, no-store (millions)",
            r * g("P") / million,
        ),
        (
            "public requests reaching the app, shared cache (millions)",
            r * g("P") * (1.0 - g("H")) / million,
        ),
        (
            "`sessions/authenticate` calls (millions)",
            dau * a * days / million,
        ),
        (
            "`sessions/authenticate` in the peak clock hour",
            dau * a / 24.0 * g("PEAK"),
        ),
        ("requests a second at peak", peak_rps),
        ("Cloudflare Access, a seat per user ($)", mau * g("SEAT")),
        (
            "oauth2-proxy or Pomerium VMs ($)",
            g("VMIN").max(peak_rps / 1000.0 * g("VK")) * g("VM"),
        ),
    ])
}

#[test]
fn every_figure_of_the_gateway_table_follows_from_its_inputs() {
    let (values, _) = inputs();
    let figures = figures();
    assert!(figures.len() >= 18, "the table: {figures:?}");
    for (column, mau) in [1e6, 1e7, 1e8].into_iter().enumerate() {
        let model = model(&values, mau);
        for (label, cells) in &figures {
            let want = model
                .get(label.as_str())
                .unwrap_or_else(|| panic!("a row the test does not recompute: {label}"));
            // Written rounded to whole units.
            assert!(
                (cells[column] - want.round()).abs() <= 1.0,
                "{label} at {mau} MAU: the table says {}, the inputs give {want:.2}",
                cells[column]
            );
        }
    }
}

#[test]
fn the_crossover_the_text_gives_follows_from_the_inputs() {
    let (v, _) = inputs();
    let g = |k: &str| v[k];
    let a = g("T") * 3600.0 / g("J");
    let f = g("FR") + a / g("Q");
    let per_mau_lean = g("D")
        * g("Q")
        * 30.0
        * (1.0 - g("P"))
        * (g("PR") + g("C") * g("PC") + (f + (1.0 - f) * g("S")) * g("PL"))
        / 1e6;
    let kv = g("I") * 4320.0 / 1e6 * g("PK");
    let floor = g("VMIN") * g("VM");
    let lean = (floor - kv) / per_mau_lean;
    let every_line = {
        let per_mau = g("D") * g("Q") * 30.0 * (g("PR") + g("C") * g("PC") + 2.0 * g("PL")) / 1e6;
        (floor - kv) / per_mau
    };
    let text = section();
    assert!(
        text.contains(&format!("below about {:.1} M monthly users", lean / 1e6)),
        "lean crossover: {lean:.0}"
    );
    assert!(
        text.contains(&format!(
            "about {},000 with every line logged",
            (every_line / 1e4).round() as u64 * 10
        )),
        "every-line crossover: {every_line:.0}"
    );
    assert!(
        text.contains(&format!("${:.0} a month here", floor)),
        "the proxy's floor"
    );
}

#[test]
fn every_input_says_where_it_comes_from() {
    let (_, what) = inputs();
    assert!(what.len() >= 19, "{what:?}");
    for (symbol, about) in what {
        assert!(
            about.contains("assumed")
                || about.contains("measured")
                || about.contains("as above")
                || about.contains(".com")
                || about.contains(".io")
                || about.contains("same page")
                || about.contains("a setting")
                || about.contains("MIN_JWT_SECS_LEFT"),
            "{symbol}: no source, measurement or 'assumed': {about}"
        );
    }
}
