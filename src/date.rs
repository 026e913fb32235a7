//! Dates: the one conversion between days since 1970-01-01 and civil dates
//! (Howard Hinnant's `days_from_civil` and `civil_from_days`), for the
//! HTTP dates of `Retry-After` (read), [`crate::Token::expires_at_rfc3339`]
//! and the fake's `Retry-After` dates (written).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// A time as UTC fields: year, month (1-12), day, hour, minute, second, and
/// the days since 1970-01-01 (for the weekday).
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hms: (u64, u64, u64),
    days: i64,
}

/// Days since 1970-01-01 of a civil date (month 1-12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// The civil date of `time` (the epoch for times before it).
fn civil(time: SystemTime) -> Civil {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day: doy - (153 * mp + 2) / 5 + 1,
        hms: (rem / 3600, rem / 60 % 60, rem % 60),
        days,
    }
}

/// `2026-11-30T08:15:00Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let Civil {
        year,
        month,
        day,
        hms: (h, m, s),
        ..
    } = civil(time);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's IMF-fixdate).
#[cfg_attr(not(feature = "fake"), allow(dead_code))]
pub(crate) fn http_date(time: SystemTime) -> String {
    let c = civil(time);
    let (h, m, s) = c.hms;
    format!(
        "{}, {:02} {} {} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[c.days.rem_euclid(7) as usize],
        c.day,
        MONTHS[c.month as usize - 1],
        c.year
    )
}

/// An HTTP date in any of the three forms of RFC 9110 §5.6.7: IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37
/// GMT` (a two-digit year read as RFC 9110 says, relative to `now`), asctime
/// `Sun Nov  6 08:49:37 1994`. Years 1970 to 9999 only.
pub(crate) fn parse_http_date(value: &str, now: SystemTime) -> Option<SystemTime> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let (day, month, year, time) = match parts[..] {
        [weekday, day, month, year, time, "GMT"] if weekday.ends_with(',') => {
            (day, month, year.parse().ok()?, time)
        }
        [weekday, date, time, "GMT"] if weekday.ends_with(',') => {
            let mut date = date.split('-');
            let (day, month, yy) = (date.next()?, date.next()?, date.next()?);
            if date.next().is_some() || yy.len() != 2 {
                return None;
            }
            // A year more than 50 years ahead is the latest past year with
            // those two digits.
            let yy: i64 = yy.parse().ok()?;
            let this_year = civil(now).year;
            let mut year = this_year / 100 * 100 + yy;
            if year > this_year + 50 {
                year -= 100;
            } else if year <= this_year - 50 {
                year += 100;
            }
            (day, month, year, time)
        }
        [_weekday, month, day, time, year] => (day, month, year.parse().ok()?, time),
        _ => return None,
    };
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let mut hms = (time.split(':')).map(|n| n.parse::<u64>().ok().filter(|n| *n < 61));
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let valid = (1..=31).contains(&day) && (1970..=9999).contains(&year);
    if !valid || h > 23 || m > 59 || hms.next().is_some() {
        return None;
    }
    // Years 1970..=9999 keep this far from overflow.
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_written_round_trip() {
        // 1994-11-06 08:49:37 UTC, the RFC's example.
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(rfc3339(at), "1994-11-06T08:49:37Z");
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(value, at), Some(at), "{value}");
        }
        // Every day of four centuries, leap days and century years included.
        for days in (0..146_097 * 4).step_by(7) {
            let t = UNIX_EPOCH + Duration::from_secs(days * 86_400 + 86_399);
            assert_eq!(parse_http_date(&http_date(t), t), Some(t), "{days}");
        }
        for bad in [
            "",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov  6 25:49:37 1994",
            "Mon, 01 Jan 10000 00:00:00 GMT",
            "Sun, 06 Nov 300000000000 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad, at), None, "{bad}");
        }
    }
}
