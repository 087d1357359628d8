//! Cron schedules as kube-state-metrics parses them for `kube_cronjob_next_schedule_time` and
//! `kube_cronjob_schedule_invalid`: `ParseStandard` of `github.com/netresearch/go-cron` (the
//! maintained fork of `robfig/cron/v3` that KSM switched to in v2.19), and its
//! `SpecSchedule.Next`. See [`parse`] and [`Schedule::next`].
//!
//! Why our own code rather than a cron crate: the value KSM exports is defined by that Go
//! library's exact algorithm — its parse errors (a step not smaller than its range is an error),
//! the star bit that decides whether day-of-month and day-of-week are OR-ed, the five-year
//! search limit that yields Go's zero time, and how Go's `time.Date` resolves wall-clock times
//! that a DST change skips. Rust cron crates differ on each of these, so the algorithm is
//! reproduced here step by step, with only the time zone database (jiff's bundled copy, as KSM
//! embeds Go's) taken from a crate.
//!
//! Pure: no clock, no environment. Times are Unix seconds; a schedule without a time zone runs
//! in UTC, which is Go's `time.Local` in KSM's container image (it sets no `TZ` and ships no
//! `/etc/localtime`).
//!
//! NOTE: go-cron v0.9 and later default to AND-ing a restricted day-of-month with a restricted
//! day-of-week and accept extended syntax (`L`, `W`, `#`, `H`). Which go-cron release KSM pins is
//! not in our stored sources; this follows go-cron's first releases, which keep robfig's OR
//! rule — the rule the Kubernetes CronJob controller itself schedules by.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Go's `time.Time{}.Unix()`: what KSM exports when no activation is found within five years.
pub const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// go-cron's `MaxSpecLength`.
const MAX_SPEC_LENGTH: usize = 1024;

/// Set when a field was written `*` or `?` (and not stepped), as robfig's `starBit`.
const STAR_BIT: u64 = 1 << 63;

/// A field's bounds and names (`bounds` in spec.go).
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// A parsed schedule.
#[derive(Clone, Debug)]
pub enum Schedule {
    /// Five cron fields (or a descriptor such as `@daily`), in a time zone.
    Spec(Spec),
    /// `@every <duration>`: a constant delay in whole seconds.
    Every(i64),
}

/// `SpecSchedule`: one bit per allowed value, seconds fixed to 0.
#[derive(Clone, Debug)]
pub struct Spec {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// The zone the fields are read in.
    tz: TimeZone,
}

/// Parses `spec` the way go-cron's `ParseStandard` does: an optional `CRON_TZ=<zone> ` or
/// `TZ=<zone> ` prefix, then a descriptor (`@yearly`, `@annually`, `@monthly`, `@weekly`,
/// `@daily`, `@midnight`, `@hourly`, `@every <duration>`) or exactly five fields.
///
/// # Errors
/// A message saying why the schedule is invalid, as go-cron would reject it.
pub fn parse(spec: &str) -> Result<Schedule, String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    if spec.len() > MAX_SPEC_LENGTH {
        return Err(format!("spec too long: {}", spec.len()));
    }
    let (tz, spec) = parse_timezone(spec)?;
    if spec.starts_with('@') {
        return parse_descriptor(spec, tz);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: {fields:?}",
            fields.len()
        ));
    }
    Ok(Schedule::Spec(Spec {
        minute: get_field(fields[0], &MINUTES)?,
        hour: get_field(fields[1], &HOURS)?,
        dom: get_field(fields[2], &DOM)?,
        month: get_field(fields[3], &MONTHS)?,
        dow: get_field(fields[4], &DOW)?,
        tz,
    }))
}

/// `parseTimezone`: the zone named by a `TZ=`/`CRON_TZ=` prefix (up to the first space), and
/// the rest of the spec; UTC (KSM's `time.Local`) without a prefix.
fn parse_timezone(spec: &str) -> Result<(TimeZone, &str), String> {
    if !spec.starts_with("TZ=") && !spec.starts_with("CRON_TZ=") {
        return Ok((TimeZone::UTC, spec));
    }
    let Some(space) = spec.find(' ') else {
        return Err(format!("missing fields after timezone in spec {spec:?}"));
    };
    let eq = spec.find('=').expect("the prefix has an '='");
    let name = &spec[eq + 1..space];
    let tz = load_location(name)?;
    let rest = spec[space..].trim();
    if rest.is_empty() {
        return Err("missing fields after timezone in spec".into());
    }
    Ok((tz, rest))
}

/// go-cron's `validateTimezone` followed by Go's `time.LoadLocation`: names are looked up
/// case-sensitively in the IANA database; `Local` is KSM's local zone, UTC.
fn load_location(name: &str) -> Result<TimeZone, String> {
    let valid_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+' | ':');
    if name.is_empty() || name.len() > 64 || !name.chars().all(valid_char) {
        return Err(format!("invalid timezone {name:?}"));
    }
    if name == "UTC" || name == "Local" {
        return Ok(TimeZone::UTC);
    }
    match TimeZone::get(name) {
        // jiff looks names up case-insensitively; Go's zoneinfo lookup does not.
        Ok(tz) if tz.iana_name() == Some(name) => Ok(tz),
        _ => Err(format!("unknown time zone {name:?}")),
    }
}

/// `parseDescriptor`.
fn parse_descriptor(descriptor: &str, tz: TimeZone) -> Result<Schedule, String> {
    let all = |b: &Bounds| get_bits(b.min, b.max, 1) | STAR_BIT;
    let spec = |hour, dom, month, dow| {
        Schedule::Spec(Spec {
            minute: 1,
            hour,
            dom,
            month,
            dow,
            tz: tz.clone(),
        })
    };
    Ok(match descriptor {
        "@yearly" | "@annually" => spec(1, 1 << 1, 1 << 1, all(&DOW)),
        "@monthly" => spec(1, 1 << 1, all(&MONTHS), all(&DOW)),
        "@weekly" => spec(1, all(&DOM), all(&MONTHS), 1),
        "@daily" | "@midnight" => spec(1, all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => spec(all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        _ => {
            let Some(text) = descriptor.strip_prefix("@every ") else {
                return Err(format!("unrecognized descriptor: {descriptor}"));
            };
            let nanos = parse_go_duration(text)
                .ok_or_else(|| format!("failed to parse duration {descriptor}"))?;
            // go-cron refuses sub-second delays; Every() then drops the fraction of a second.
            if nanos < 1_000_000_000 {
                return Err(format!("@every duration must be at least 1s: {descriptor}"));
            }
            let secs = i64::try_from(nanos / 1_000_000_000)
                .map_err(|_| format!("duration out of range: {descriptor}"))?;
            Schedule::Every(secs)
        }
    })
}

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]` then one or more `<decimal><unit>` with
/// units `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`; a bare `0` is zero. `None` where Go fails
/// (including overflow of an int64).
fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(num_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return None;
        }
        // Digits past nanosecond precision of an hour cannot change the result.
        let frac_part = &frac_part[..frac_part.len().min(18)];
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let int: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut value = int.checked_mul(scale)?;
        // The fraction scaled to the unit and truncated to whole nanoseconds, as Go does.
        if !frac_part.is_empty() {
            let digits: i128 = frac_part.parse().ok()?;
            let pow = 10_i128.checked_pow(u32::try_from(frac_part.len()).ok()?)?;
            value += digits.checked_mul(scale)? / pow;
        }
        total = total.checked_add(value)?;
        if total > i128::from(i64::MAX) + i128::from(neg) {
            return None;
        }
        rest = tail;
    }
    Some(if neg { -total } else { total })
}

/// `getField`: the union of the comma-separated ranges (empty items are skipped, as Go's
/// `strings.FieldsFunc` does).
fn get_field(field: &str, b: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    for expr in field.split(',').filter(|e| !e.is_empty()) {
        bits |= get_range(expr, b)?;
    }
    Ok(bits)
}

/// `getRange`: `*`, `?`, `n`, `n-m`, each optionally `/step`; `n/step` runs to the field's
/// maximum. A step of 2 or more clears the star bit and MUST be smaller than its range.
fn get_range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (b.min, b.max, STAR_BIT)
    } else {
        let start = parse_int_or_name(low_and_high[0], b)?;
        match low_and_high.len() {
            1 => (start, start, 0),
            2 => (start, parse_int_or_name(low_and_high[1], b)?, 0),
            _ => return Err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum: {expr}"
        ));
    }
    if end > b.max {
        return Err(format!("end of range ({end}) above maximum: {expr}"));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end: {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    let size = end - start + 1;
    if step > 1 && step >= size {
        return Err(format!(
            "step ({step}) must be less than range size ({size}): {expr}"
        ));
    }
    Ok(get_bits(start, end, step) | extra)
}

/// `parseIntOrName`: a month or weekday name (any case), else an integer.
fn parse_int_or_name(expr: &str, b: &Bounds) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    must_parse_int(expr)
}

/// `mustParseInt`: Go's `strconv.Atoi` (optional sign, decimal digits), refusing negatives.
fn must_parse_int(expr: &str) -> Result<u32, String> {
    let n: i64 = expr
        .parse()
        .map_err(|_| format!("failed to parse int from {expr}"))?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    // Values past the bounds are refused by the caller; clamp so the message stays exact.
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// `getBits`: every `step`-th value from `low` to `high`.
fn get_bits(low: u32, high: u32, step: u32) -> u64 {
    (low..=high)
        .step_by(step as usize)
        .fold(0, |bits, i| bits | 1 << i)
}

// ===== Next =====

impl Schedule {
    /// The first activation strictly after `after` (Unix seconds), as go-cron's `Next` computes
    /// it; [`GO_ZERO_UNIX`] when none exists within five years.
    pub fn next(&self, after: i64) -> i64 {
        match self {
            Schedule::Every(secs) => after.saturating_add(*secs),
            Schedule::Spec(spec) => spec.next(after),
        }
    }
}

impl Spec {
    fn day_matches(&self, c: &Civil) -> bool {
        let dom = 1 << c.day & self.dom > 0;
        let dow = 1 << c.weekday & self.dow > 0;
        if self.dom & STAR_BIT > 0 || self.dow & STAR_BIT > 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// `SpecSchedule.Next`, line by line: find the month, then the day, hour, minute and second,
    /// restarting from the month whenever a field wraps; `added` marks that the time has been
    /// moved, after which lower fields start from zero.
    fn next(&self, after: i64) -> i64 {
        let tz = &self.tz;
        let at = |t: i64| Civil::of(t, tz);
        // Start at the next second (inputs are whole seconds).
        let mut t = after + 1;
        let mut added = false;
        let year_limit = at(t).year + 5;
        'wrap: loop {
            let c = at(t);
            if c.year > year_limit {
                return GO_ZERO_UNIX;
            }
            let mut c = c;
            while 1 << c.month & self.month == 0 {
                if !added {
                    added = true;
                    t = go_date(c.year, c.month, 1, 0, 0, 0, tz);
                }
                t = add_date(t, 0, 1, 0, tz);
                c = at(t);
                if c.month == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(&c) {
                if !added {
                    added = true;
                    t = go_date(c.year, c.month, c.day, 0, 0, 0, tz);
                }
                t = add_date(t, 0, 0, 1, tz);
                // Where DST moved midnight, step back to it (or forward past it).
                let hour = i64::from(at(t).hour);
                if hour != 0 {
                    t += if hour > 12 {
                        (24 - hour) * 3600
                    } else {
                        -hour * 3600
                    };
                }
                c = at(t);
                if c.day == 1 {
                    continue 'wrap;
                }
            }
            while 1 << c.hour & self.hour == 0 {
                if !added {
                    added = true;
                    t = go_date(c.year, c.month, c.day, c.hour, 0, 0, tz);
                }
                let prev_hour = at(t).hour;
                t += 3600;
                c = at(t);
                // ISC cron: an activation inside an hour skipped by DST runs right after it.
                if c.hour.wrapping_sub(prev_hour) == 2 && 1 << (c.hour - 1) & self.hour > 0 {
                    break;
                }
                if c.hour == 0 {
                    continue 'wrap;
                }
            }
            while 1 << c.minute & self.minute == 0 {
                if !added {
                    added = true;
                    t = t.div_euclid(60) * 60;
                }
                t += 60;
                c = at(t);
                if c.minute == 0 {
                    continue 'wrap;
                }
            }
            // Seconds: only second 0 is allowed.
            while c.second != 0 {
                added = true;
                t += 1;
                c = at(t);
                if c.second == 0 {
                    continue 'wrap;
                }
            }
            return t;
        }
    }
}

/// A wall-clock reading of an instant in a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// 0 = Sunday, as Go's `Weekday`.
    weekday: u32,
}

impl Civil {
    fn of(t: i64, tz: &TimeZone) -> Civil {
        let local = t + offset_at(t, tz);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let hms = u32::try_from(secs).expect("seconds of a day fit u32");
        Civil {
            year,
            month,
            day,
            hour: hms / 3600,
            minute: hms / 60 % 60,
            second: hms % 60,
            weekday: u32::try_from((days + 4).rem_euclid(7)).expect("weekday fits u32"),
        }
    }
}

/// The zone's UTC offset in seconds at instant `t` (0 outside jiff's supported range).
fn offset_at(t: i64, tz: &TimeZone) -> i64 {
    Timestamp::from_second(t).map_or(0, |ts| i64::from(tz.to_offset(ts).seconds()))
}

/// Go's `time.Date(year, month, day, hour, min, sec, 0, loc)`: out-of-range values carry over,
/// and a wall-clock time that does not exist or exists twice is resolved as Go resolves it —
/// with the offset in force at the "local as UTC" instant, corrected once if that instant is
/// in another offset period.
fn go_date(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    tz: &TimeZone,
) -> i64 {
    go_date_signed(
        year,
        i64::from(month),
        i64::from(day),
        i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second),
        tz,
    )
}

fn go_date_signed(year: i64, month: i64, day: i64, secs_of_day: i64, tz: &TimeZone) -> i64 {
    let m0 = month - 1;
    let year = year + m0.div_euclid(12);
    let month = u32::try_from(m0.rem_euclid(12) + 1).expect("month in 1..=12");
    let days = days_from_civil(year, month, 1) + day - 1;
    let unix = days * 86_400 + secs_of_day;
    let offset = offset_at(unix, tz);
    if offset == 0 {
        return unix;
    }
    let utc = unix - offset;
    unix - offset_at(utc, tz)
}

/// Go's `t.AddDate(years, months, days)`: `time.Date` of the shifted wall-clock fields.
fn add_date(t: i64, years: i64, months: i64, days: i64, tz: &TimeZone) -> i64 {
    let c = Civil::of(t, tz);
    go_date_signed(
        c.year + years,
        i64::from(c.month) + months,
        i64::from(c.day) + days,
        i64::from(c.hour) * 3600 + i64::from(c.minute) * 60 + i64::from(c.second),
        tz,
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).expect("day in 1..=31");
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("month in 1..=12");
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of an RFC 3339 instant.
    fn ts(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_second()
    }

    fn next(spec: &str, after: &str) -> i64 {
        parse(spec).unwrap().next(ts(after))
    }

    #[test]
    fn civil_conversions_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn next_matches_ksm_cronjob_test_expectations() {
        // cronjob_test.go TestGetNextScheduledTime: "0 */6 * * *" after 2018-03-11T04:34:56Z.
        let last = 1_520_742_896;
        let utc = parse("0 */6 * * *").unwrap();
        assert_eq!(utc.next(last), last + 4 + 25 * 60 + 3600);
        let shanghai = parse("CRON_TZ=Asia/Shanghai 0 */6 * * *").unwrap();
        assert_eq!(shanghai.next(last), last + 4 + 25 * 60 + 5 * 3600);
        // "25 * * * *" after the creation time 6.5 hours later.
        assert_eq!(
            next("25 * * * *", "2018-03-11T11:04:56Z"),
            ts("2018-03-11T11:25:00Z")
        );
        assert_eq!(
            next("25 * * * *", "2018-03-11T11:25:00Z"),
            ts("2018-03-11T12:25:00Z")
        );
    }

    #[test]
    fn go_cron_rejects_steps_not_smaller_than_their_range() {
        for bad in [
            "*/120 4-22 * * *",
            "0 1 */32,1-7 * 3",
            "*/60 * * * *",
            "0 0 1-5/5 * *",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be invalid");
        }
        for good in [
            "*/59 * * * *",
            "0 0 1-5/4 * *",
            "5/10 * * * *",
            "0 0 */30 * *",
        ] {
            assert!(parse(good).is_ok(), "{good} should be valid");
        }
    }

    #[test]
    fn parse_errors_follow_robfig() {
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "5-1 * * * *",
            "*/0 * * * *",
            "1-2-3 * * * *",
            "1/2/3 * * * *",
            "-1 * * * *",
            "x * * * *",
            "@fortnightly",
            "@every 500ms",
            "@every",
            "TZ=UTC",
            "CRON_TZ=Invalid/Zone 0 * * * *",
            "CRON_TZ=asia/shanghai 0 * * * *",
            "CRON_TZ= 0 * * * *",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be invalid");
        }
        for good in [
            "0 0 * * sun",
            "0 0 * JAN-mar MON-FRI",
            "? ? ? ? ?",
            "1,,2 * * * *",
            "+5 * * * *",
            "@hourly",
            "TZ=Europe/Berlin @daily",
            "CRON_TZ=Local 0 * * * *",
            "@every 1h30m",
        ] {
            assert!(parse(good).is_ok(), "{good:?} should be valid");
        }
    }

    #[test]
    fn day_of_month_and_week_are_ored_only_when_both_are_restricted() {
        // 2024-06-15 is a Saturday. "13th or Friday": the next Friday is the 21st, the next
        // 13th is in July.
        assert_eq!(
            next("0 0 13 * 5", "2024-06-15T00:00:00Z"),
            ts("2024-06-21T00:00:00Z")
        );
        // A stepped star is a restriction too: "*/2" (odd days) OR Mondays.
        assert_eq!(
            next("0 0 */2 * 1", "2024-06-15T00:00:00Z"),
            ts("2024-06-17T00:00:00Z")
        );
        // With a plain star the other field decides alone.
        assert_eq!(
            next("0 0 * * 1", "2024-06-15T00:00:00Z"),
            ts("2024-06-17T00:00:00Z")
        );
    }

    #[test]
    fn descriptors_and_every() {
        assert_eq!(
            next("@yearly", "2024-06-15T10:00:00Z"),
            ts("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            next("@weekly", "2024-06-15T10:00:00Z"),
            ts("2024-06-16T00:00:00Z")
        );
        assert_eq!(
            next("@every 1h30m", "2024-06-15T10:00:00Z"),
            ts("2024-06-15T11:30:00Z")
        );
        assert_eq!(
            next("@every 1.5s", "2024-06-15T10:00:00Z"),
            ts("2024-06-15T10:00:01Z")
        );
    }

    #[test]
    fn a_schedule_that_never_fires_yields_go_zero_time() {
        assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00Z"), GO_ZERO_UNIX);
    }

    #[test]
    fn leap_days_and_month_ends() {
        assert_eq!(
            next("0 12 29 2 *", "2023-03-01T00:00:00Z"),
            ts("2024-02-29T12:00:00Z")
        );
        assert_eq!(
            next("0 0 31 * *", "2024-04-01T00:00:00Z"),
            ts("2024-05-31T00:00:00Z")
        );
    }

    #[test]
    fn dst_gaps_and_overlaps_follow_go_cron() {
        // New York springs forward at 2024-03-10 02:00 EST -> 03:00 EDT. go-cron's hour loop
        // stops at 03:00 because hour 2 was skipped, then its minute loop still seeks :30, so a
        // 02:30 job fires at 03:30 EDT (07:30Z) that day rather than not at all (robfig).
        assert_eq!(
            next(
                "CRON_TZ=America/New_York 30 2 * * *",
                "2024-03-10T05:00:00Z"
            ),
            ts("2024-03-10T07:30:00Z")
        );
        // The day after, 02:30 EDT exists again.
        assert_eq!(
            next(
                "CRON_TZ=America/New_York 30 2 * * *",
                "2024-03-10T08:00:00Z"
            ),
            ts("2024-03-11T06:30:00Z")
        );
        // Falling back (2024-11-03 02:00 EDT -> 01:00 EST): 01:30 fires at the first 01:30.
        assert_eq!(
            next(
                "CRON_TZ=America/New_York 30 1 * * *",
                "2024-11-03T04:00:00Z"
            ),
            ts("2024-11-03T05:30:00Z")
        );
    }

    #[test]
    fn go_date_resolves_skipped_wall_clock_times_like_go() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 02:30 on the spring-forward day does not exist; Go yields 01:30 EST (06:30Z).
        assert_eq!(
            go_date(2024, 3, 10, 2, 30, 0, &ny),
            ts("2024-03-10T06:30:00Z")
        );
        // Out-of-range fields carry.
        assert_eq!(
            go_date(2024, 13, 32, 0, 0, 0, &TimeZone::UTC),
            ts("2025-02-01T00:00:00Z")
        );
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("-2s"), Some(-2_000_000_000));
        assert_eq!(parse_go_duration("1"), None);
        assert_eq!(parse_go_duration("1d"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("."), None);
    }
}
