//! How many of the gateway's log lines are written: every refusal and error, and of its
//! successes the share `GATEWAY_LOG_SAMPLE_RATE` asks for. A gateway in front of every page,
//! asset and API call writes a line per request, and Workers Logs bills per line
//! (docs/scale.md, "The gateway"); the lines worth reading are the refusals and failures.

/// The share of successful gateway requests whose line is written, in millionths: six
/// decimals are finer than any rate worth configuring (one line in a million requests), and
/// an integer needs no float parsing in the WASM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSampling {
    per_million: u32,
    /// The rate as configured, written into each sampled line so that counts can be scaled
    /// back.
    text: String,
}

/// One in a million: the unit of [`LogSampling`].
const MILLION: u32 = 1_000_000;

impl Default for LogSampling {
    /// Every line, as without the setting.
    fn default() -> Self {
        Self {
            per_million: MILLION,
            text: "1".to_owned(),
        }
    }
}

impl LogSampling {
    /// Reads a rate from 0 to 1 written as a decimal (`1`, `0.1`, `0.005`; at most six
    /// decimals); the problem otherwise.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        const PROBLEM: &str = "must be a decimal from 0 to 1 with at most six decimals, like 0.01";
        let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
        if fraction.len() > 6
            || !matches!(whole, "0" | "1")
            || (value.contains('.') && fraction.is_empty())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(PROBLEM);
        }
        let mut per_million: u32 = if whole == "1" { MILLION } else { 0 };
        let mut unit = MILLION / 10;
        for digit in fraction.bytes() {
            per_million += u32::from(digit - b'0') * unit;
            unit /= 10;
        }
        if per_million > MILLION {
            return Err(PROBLEM);
        }
        Ok(Self {
            per_million,
            text: value.to_owned(),
        })
    }

    /// Whether every line is written (the default): no random number is drawn then.
    pub fn keeps_all(&self) -> bool {
        self.per_million >= MILLION
    }

    /// Whether a successful request's line is written, given a uniformly random `draw`.
    pub fn keeps(&self, draw: u32) -> bool {
        self.keeps_all() || draw % MILLION < self.per_million
    }

    /// The rate as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_in_millionths() {
        for (text, ppm) in [
            ("1", MILLION),
            ("1.0", MILLION),
            ("1.000000", MILLION),
            ("0", 0),
            ("0.5", 500_000),
            ("0.01", 10_000),
            ("0.000001", 1),
            ("0.123456", 123_456),
        ] {
            assert_eq!(
                LogSampling::parse(text).map(|s| s.per_million),
                Ok(ppm),
                "{text}"
            );
        }
        for bad in [
            "",
            "2",
            "1.5",
            "1.000001",
            "-0.1",
            ".5",
            "0.",
            "0.0000001",
            "0,5",
            "5%",
            "1e-2",
            " 0.1",
            "00.1",
        ] {
            assert!(LogSampling::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rate_keeps_that_share_of_draws() {
        let tenth = LogSampling::parse("0.1").unwrap();
        assert!(tenth.keeps(99_999) && !tenth.keeps(100_000) && tenth.keeps(1_000_000));
        let kept = (0..1_000_000_u32)
            .step_by(7)
            .filter(|d| tenth.keeps(*d))
            .count();
        assert_eq!(kept, 14_286);
        assert!(!LogSampling::parse("0").unwrap().keeps(0));
        assert!(LogSampling::default().keeps(u32::MAX) && LogSampling::default().keeps_all());
    }
}
