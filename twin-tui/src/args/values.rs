//! Value parsers for flags.
//!
//! clap's `value_parser` takes any `Fn(&str) -> Result<T, E>` with `E: Into<Box<dyn
//! Error>>`; clap prints the error after the flag's name, so a plain message is all a
//! parser needs to give.

use scenarios::{Dur, Speed};

/// A duration such as "30s" or "2h", longer than zero.
pub fn parse_dur(s: &str) -> Result<Dur, String> {
    let d = parse_dur_or_zero(s)?;
    if d.secs() == 0.0 {
        return Err("expected a duration longer than zero".into());
    }
    Ok(d)
}

/// A duration that may be zero ("0s": not at all).
pub fn parse_dur_or_zero(s: &str) -> Result<Dur, String> {
    let d = Dur::parse(s).map_err(|e| e.to_string())?;
    if d.secs() < 0.0 {
        return Err("expected a duration of zero or more".into());
    }
    Ok(d)
}

/// A run speed: sim seconds per wall second (a positive number), or "max".
pub fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
        _ => Err(format!(
            "\"{s}\" is not a speed; expected a positive number (sim seconds per wall second) or \"max\""
        )),
    }
}

/// A parsed duration as the standard library's.
pub fn to_duration(d: Dur) -> std::time::Duration {
    std::time::Duration::from_secs_f64(d.secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_must_be_longer_than_zero() {
        assert_eq!(parse_dur("30s").map(Dur::secs), Ok(30.0));
        assert_eq!(
            parse_dur("0s").map(Dur::secs),
            Err("expected a duration longer than zero".to_string())
        );
        assert!(parse_dur("soon").is_err());
    }

    #[test]
    fn speeds_are_positive_factors_or_max() {
        assert_eq!(parse_speed("max"), Ok(Speed::Max));
        assert_eq!(parse_speed("2.5"), Ok(Speed::Factor(2.5)));
        for bad in ["0", "-1", "inf", "fast"] {
            assert_eq!(
                parse_speed(bad),
                Err(format!(
                    "\"{bad}\" is not a speed; expected a positive number (sim seconds per wall second) or \"max\""
                ))
            );
        }
    }
}
