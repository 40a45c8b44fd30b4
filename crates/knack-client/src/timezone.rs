//! Knack timezone names and Knack's "local time labelled as UTC" timestamps.
//!
//! Knack stores an app's timezone as a display name ("Central Time (US & Canada)"),
//! the Rails `ActiveSupport::TimeZone` names, and sends date/time values as
//! milliseconds that encode the *local wall clock* as if it were UTC.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{OffsetComponents, Tz};

use crate::Error;

/// Knack's timezone display names and their IANA zones.
///
/// First the names of knackpy's `TIMEZONES` table (what production resolves;
/// where knackpy and Rails disagree, knackpy wins so the same app formats to the
/// same instants), with knackpy's two typos fixed (`America/Sao_Paul`,
/// `Europe/Istanbu`, which made knackpy fail for those apps); then every name of
/// Rails' `ActiveSupport::TimeZone::MAPPING`. Lookups ignore case and whitespace.
const KNACK_TIMEZONES: &[(&str, &str)] = &[
    // knackpy 1.0.21, models.py TIMEZONES
    ("Samoa", "Pacific/Samoa"),
    ("Hawaii", "Pacific/Honolulu"),
    ("Marquesas Islands", "Pacific/Marquesas"),
    ("Alaska", "America/Anchorage"),
    ("Baja California", "America/Tijuana"),
    ("Pacific Time (US & Canada)", "America/Los_Angeles"),
    ("Chihuahua,Mazatlan", "America/Chihuahua"),
    ("Arizona", "America/Phoenix"),
    ("Mountain Time (US & Canada)", "America/Denver"),
    ("Central Time (US & Canada)", "America/Chicago"),
    ("Central America", "America/Guatemala"),
    ("Guadalajara,Mexico City, Monterrey", "America/Mexico_City"),
    ("Saskatchewan", "America/Regina"),
    ("Bogota, Lima, Quito", "America/Bogota"),
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("Indiana (East)", "America/Indianapolis"),
    ("Caracas", "America/Caracas"),
    ("Atlantic Time (Canada)", "America/Halifax"),
    ("Asuncion", "America/Asuncion"),
    ("Cuiaba", "America/Cuiaba"),
    ("Santiago", "America/Santiago"),
    ("Georgetown, La Paz, Manaus, San Juan", "America/La_Paz"),
    ("Newfoundland", "America/St_Johns"),
    ("Buenos Aires", "America/Buenos_Aires"),
    ("Brasilia", "America/Sao_Paulo"),
    ("Cayenne, Fortaleza", "America/Cayenne"),
    ("Montevideo", "America/Montevideo"),
    ("Greenland", "America/Godthab"),
    ("Azores", "Atlantic/Azores"),
    ("Cape Verde Is.", "Atlantic/Cape_Verde"),
    ("Casablanca", "Africa/Casablanca"),
    ("Monrovia,Reykjavik", "Atlantic/Reykjavik"),
    (
        "Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
        "Europe/London",
    ),
    ("Sarajevo,Skopje, Warsaw, Zagreb", "Europe/Warsaw"),
    ("West Central Africa", "Africa/Lagos"),
    (
        "Belgrade,Bratislava, Budapest, Ljubljana, Prague",
        "Europe/Budapest",
    ),
    ("Brussels, Copenhagen,Madrid, Paris", "Europe/Paris"),
    (
        "Amsterdam,Berlin, Bern, Rome,Stockholm, Vienna",
        "Europe/Berlin",
    ),
    ("Harare, Pretoria", "Africa/Johannesburg"),
    ("Damascus", "Asia/Damascus"),
    (
        "Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius",
        "Europe/Kiev",
    ),
    ("Windhoek", "Africa/Windhoek"),
    ("Minsk", "Europe/Minsk"),
    ("Athens,Bucharest, Istanbul", "Europe/Istanbul"),
    ("Amman", "Asia/Amman"),
    ("Beirut", "Asia/Beirut"),
    ("Jerusalem", "Asia/Jerusalem"),
    ("Cairo", "Africa/Cairo"),
    ("Kuwait, Riyadh", "Asia/Riyadh"),
    ("Moscow, St. Petersburg, Volgograd", "Europe/Moscow"),
    ("Baghdad", "Asia/Baghdad"),
    ("Nairobi", "Africa/Nairobi"),
    ("Tehran", "Asia/Tehran"),
    ("Port Louis", "Indian/Mauritius"),
    ("Tbilisi", "Asia/Tbilisi"),
    ("Baku", "Asia/Baku"),
    ("Yerevan", "Asia/Yerevan"),
    ("Abu Dhabi, Muscat", "Asia/Dubai"),
    ("Kabul", "Asia/Kabul"),
    ("Yekaterinburg", "Asia/Yekaterinburg"),
    ("Islamabad,Karachi", "Asia/Karachi"),
    ("Tashkent", "Asia/Tashkent"),
    ("Chennai, Kolkata, Mumbai,New Delhi", "Asia/Calcutta"),
    ("Sri Jayawardenepura", "Asia/Colombo"),
    ("Kathmandu", "Asia/Katmandu"),
    ("Dhaka", "Asia/Dhaka"),
    ("Novosibirsk", "Asia/Novosibirsk"),
    ("Astana", "Asia/Almaty"),
    ("Yangon (Rangoon)", "Asia/Rangoon"),
    ("Krasnoyarsk", "Asia/Krasnoyarsk"),
    ("Bangkok, Hanoi,Jakarta", "Asia/Bangkok"),
    ("Ulaanbaatar", "Asia/Ulaanbaatar"),
    ("Perth", "Australia/Perth"),
    ("Taipei", "Asia/Taipei"),
    ("Kuala Lumpur,Singapore", "Asia/Singapore"),
    ("Beijing,Chongqing,Hong Kong, Urumqi", "Asia/Shanghai"),
    ("Irkutsk", "Asia/Irkutsk"),
    ("Pyongyang", "Asia/Pyongyang"),
    ("Eucla", "Australia/Eucla"),
    ("Seoul", "Asia/Seoul"),
    ("Osaka,Sapporo, Tokyo", "Asia/Tokyo"),
    ("Yakutsk", "Asia/Yakutsk"),
    ("Darwin", "Australia/Darwin"),
    ("Adelaide", "Australia/Adelaide"),
    ("Hobart", "Australia/Hobart"),
    ("Vladivostok", "Asia/Vladivostok"),
    ("Guam, Port Moresby", "Pacific/Port_Moresby"),
    ("Brisbane", "Australia/Brisbane"),
    ("Canberra,Melbourne, Sydney", "Australia/Sydney"),
    ("Lord Howe Island", "Australia/LHI"),
    ("Magadan, Solomon Is.,New Caledonia", "Asia/Magadan"),
    ("Fiji", "Pacific/Fiji"),
    ("Petropavlovsk-Kamchatsky", "Asia/Kamchatka"),
    ("Auckland, Wellington", "Pacific/Auckland"),
    ("Chatham Islands", "Pacific/Chatham"),
    ("Phoenix Islands, Tokelau, Tonga", "Pacific/Enderbury"),
    ("Line Islands", "Pacific/Kiritimati"),
    // Rails ActiveSupport::TimeZone::MAPPING (names knackpy lacks)
    ("International Date Line West", "Etc/GMT+12"),
    ("Midway Island", "Pacific/Midway"),
    ("American Samoa", "Pacific/Pago_Pago"),
    ("Tijuana", "America/Tijuana"),
    ("Chihuahua", "America/Chihuahua"),
    ("Mazatlan", "America/Mazatlan"),
    ("Guadalajara", "America/Mexico_City"),
    ("Mexico City", "America/Mexico_City"),
    ("Monterrey", "America/Monterrey"),
    ("Bogota", "America/Bogota"),
    ("Lima", "America/Lima"),
    ("Quito", "America/Lima"),
    ("La Paz", "America/La_Paz"),
    ("Georgetown", "America/Guyana"),
    ("Puerto Rico", "America/Puerto_Rico"),
    ("Mid-Atlantic", "Atlantic/South_Georgia"),
    ("Dublin", "Europe/Dublin"),
    ("Edinburgh", "Europe/London"),
    ("Lisbon", "Europe/Lisbon"),
    ("London", "Europe/London"),
    ("Monrovia", "Africa/Monrovia"),
    ("UTC", "Etc/UTC"),
    ("Belgrade", "Europe/Belgrade"),
    ("Bratislava", "Europe/Bratislava"),
    ("Budapest", "Europe/Budapest"),
    ("Ljubljana", "Europe/Ljubljana"),
    ("Prague", "Europe/Prague"),
    ("Sarajevo", "Europe/Sarajevo"),
    ("Skopje", "Europe/Skopje"),
    ("Warsaw", "Europe/Warsaw"),
    ("Zagreb", "Europe/Zagreb"),
    ("Brussels", "Europe/Brussels"),
    ("Copenhagen", "Europe/Copenhagen"),
    ("Madrid", "Europe/Madrid"),
    ("Paris", "Europe/Paris"),
    ("Amsterdam", "Europe/Amsterdam"),
    ("Berlin", "Europe/Berlin"),
    ("Bern", "Europe/Zurich"),
    ("Zurich", "Europe/Zurich"),
    ("Rome", "Europe/Rome"),
    ("Stockholm", "Europe/Stockholm"),
    ("Vienna", "Europe/Vienna"),
    ("Bucharest", "Europe/Bucharest"),
    ("Helsinki", "Europe/Helsinki"),
    ("Kyiv", "Europe/Kiev"),
    ("Riga", "Europe/Riga"),
    ("Sofia", "Europe/Sofia"),
    ("Tallinn", "Europe/Tallinn"),
    ("Vilnius", "Europe/Vilnius"),
    ("Athens", "Europe/Athens"),
    ("Istanbul", "Europe/Istanbul"),
    ("Harare", "Africa/Harare"),
    ("Pretoria", "Africa/Johannesburg"),
    ("Kaliningrad", "Europe/Kaliningrad"),
    ("Moscow", "Europe/Moscow"),
    ("St. Petersburg", "Europe/Moscow"),
    ("Volgograd", "Europe/Volgograd"),
    ("Samara", "Europe/Samara"),
    ("Kuwait", "Asia/Kuwait"),
    ("Riyadh", "Asia/Riyadh"),
    ("Abu Dhabi", "Asia/Muscat"),
    ("Muscat", "Asia/Muscat"),
    ("Ekaterinburg", "Asia/Yekaterinburg"),
    ("Islamabad", "Asia/Karachi"),
    ("Karachi", "Asia/Karachi"),
    ("Chennai", "Asia/Kolkata"),
    ("Kolkata", "Asia/Kolkata"),
    ("Mumbai", "Asia/Kolkata"),
    ("New Delhi", "Asia/Kolkata"),
    ("Almaty", "Asia/Almaty"),
    ("Rangoon", "Asia/Rangoon"),
    ("Bangkok", "Asia/Bangkok"),
    ("Hanoi", "Asia/Bangkok"),
    ("Jakarta", "Asia/Jakarta"),
    ("Beijing", "Asia/Shanghai"),
    ("Chongqing", "Asia/Chongqing"),
    ("Hong Kong", "Asia/Hong_Kong"),
    ("Urumqi", "Asia/Urumqi"),
    ("Kuala Lumpur", "Asia/Kuala_Lumpur"),
    ("Singapore", "Asia/Singapore"),
    ("Osaka", "Asia/Tokyo"),
    ("Sapporo", "Asia/Tokyo"),
    ("Tokyo", "Asia/Tokyo"),
    ("Canberra", "Australia/Melbourne"),
    ("Melbourne", "Australia/Melbourne"),
    ("Sydney", "Australia/Sydney"),
    ("Guam", "Pacific/Guam"),
    ("Port Moresby", "Pacific/Port_Moresby"),
    ("Magadan", "Asia/Magadan"),
    ("Srednekolymsk", "Asia/Srednekolymsk"),
    ("Solomon Is.", "Pacific/Guadalcanal"),
    ("New Caledonia", "Pacific/Noumea"),
    ("Kamchatka", "Asia/Kamchatka"),
    ("Marshall Is.", "Pacific/Majuro"),
    ("Auckland", "Pacific/Auckland"),
    ("Wellington", "Pacific/Auckland"),
    ("Nuku'alofa", "Pacific/Tongatapu"),
    ("Tokelau Is.", "Pacific/Fakaofo"),
    ("Chatham Is.", "Pacific/Chatham"),
];

/// Every timezone display name this crate knows, with its IANA zone name.
pub fn known_timezone_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    KNACK_TIMEZONES.iter().copied()
}

/// Resolves a Knack timezone name to an IANA zone.
///
/// Like knackpy, an IANA name (`"America/Chicago"`, `"US/Central"`) is accepted
/// as is; otherwise the name is looked up among Knack's display names, ignoring
/// case, whitespace and a leading `(GMT-06:00)` / `(UTC-06:00)`.
///
/// # Errors
/// [`Error::UnknownTimezone`] when the name is neither.
pub fn parse_timezone(name: &str) -> crate::Result<Tz> {
    let trimmed = name.trim();
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(tz);
    }
    let wanted = normalize(strip_offset_prefix(trimmed));
    if let Some((_, iana)) = KNACK_TIMEZONES.iter().find(|(n, _)| normalize(n) == wanted) {
        if let Ok(tz) = iana.parse::<Tz>() {
            return Ok(tz);
        }
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
        .copied()
        .ok_or_else(|| Error::UnknownTimezone(name.to_string()))
}

fn strip_offset_prefix(name: &str) -> &str {
    let upper = name.get(..4).map(str::to_ascii_uppercase);
    match (upper.as_deref(), name.find(')')) {
        (Some("(GMT" | "(UTC"), Some(end)) => name[end + 1..].trim_start(),
        _ => name,
    }
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The true instant of a Knack `unix_timestamp` (milliseconds of local wall
/// time presented as UTC), read as wall time in `tz`.
///
/// Wall times that a DST change makes ambiguous or skips are resolved as
/// knackpy does (pytz `localize(..., is_dst=False)`):
/// - ambiguous (clocks go back): the standard-time reading, i.e. the second,
///   later occurrence; if neither or both readings are standard, the later one.
/// - nonexistent (clocks go forward): read with the offset in force six hours
///   earlier, so 02:30 on a spring-forward night in Chicago is 02:30 CST,
///   which is 03:30 CDT.
///
/// `None` when the value is out of chrono's range.
pub fn correct_knack_timestamp(knack_millis: i64, tz: Tz) -> Option<DateTime<Utc>> {
    let naive = DateTime::<Utc>::from_timestamp_millis(knack_millis)?.naive_utc();
    let offset_secs = local_offset_secs(naive, tz)?;
    let instant = naive.checked_sub_signed(Duration::seconds(offset_secs))?;
    Some(instant.and_utc())
}

/// The UTC offset (seconds) pytz would give the wall time `naive` in `tz`.
fn local_offset_secs(naive: NaiveDateTime, tz: Tz) -> Option<i64> {
    use chrono::Offset;
    match tz.offset_from_local_datetime(&naive) {
        LocalResult::Single(off) => Some(i64::from(off.fix().local_minus_utc())),
        LocalResult::Ambiguous(a, b) => {
            let standard: Vec<_> = [a, b]
                .into_iter()
                .filter(|o| o.dst_offset().is_zero())
                .collect();
            let chosen = match standard.as_slice() {
                [only] => *only,
                // the later instant is the one with the smaller offset
                _ => {
                    if a.fix().local_minus_utc() < b.fix().local_minus_utc() {
                        a
                    } else {
                        b
                    }
                }
            };
            Some(i64::from(chosen.fix().local_minus_utc()))
        }
        LocalResult::None => {
            let earlier = naive.checked_sub_signed(Duration::hours(6))?;
            match tz.offset_from_local_datetime(&earlier) {
                LocalResult::None => None,
                _ => local_offset_secs(earlier, tz),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_knack_rails_and_iana_names() {
        let cases = [
            ("Central Time (US & Canada)", "America/Chicago"),
            ("Eastern Time (US & Canada)", "America/New_York"),
            ("International Date Line West", "Etc/GMT+12"),
            ("Hawaii", "Pacific/Honolulu"),
            ("central time (us & canada)", "America/Chicago"),
            ("(GMT-06:00) Central Time (US & Canada)", "America/Chicago"),
            ("Chihuahua, Mazatlan", "America/Chihuahua"),
            ("Brasilia", "America/Sao_Paulo"),
            ("Athens,Bucharest, Istanbul", "Europe/Istanbul"),
            ("London", "Europe/London"),
            ("Kyiv", "Europe/Kiev"),
            ("America/Chicago", "America/Chicago"),
            ("US/Central", "US/Central"),
            ("america/denver", "America/Denver"),
        ];
        for (name, iana) in cases {
            assert_eq!(parse_timezone(name).unwrap().name(), iana, "{name}");
        }
    }

    #[test]
    fn every_table_entry_is_a_real_zone() {
        assert!(KNACK_TIMEZONES.len() > 150, "{}", KNACK_TIMEZONES.len());
        for (name, iana) in KNACK_TIMEZONES {
            assert!(iana.parse::<Tz>().is_ok(), "{name} -> {iana}");
            assert!(parse_timezone(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn an_unknown_name_is_an_error_that_says_what_to_do() {
        let err = parse_timezone("Mars Standard Time").unwrap_err();
        assert!(matches!(err, Error::UnknownTimezone(ref n) if n == "Mars Standard Time"));
        let msg = err.to_string();
        assert!(
            msg.contains("Mars Standard Time") && msg.contains("timezone table"),
            "{msg}"
        );
    }

    fn at(tz: Tz, millis: i64) -> String {
        correct_knack_timestamp(millis, tz)
            .unwrap()
            .with_timezone(&tz)
            .to_rfc3339()
    }

    #[test]
    fn knack_wall_time_is_corrected_across_dst_changes() {
        let chicago: Tz = "America/Chicago".parse().unwrap();
        // 2019-09-11 16:14 "Z" is 16:14 CDT
        assert_eq!(at(chicago, 1_568_218_440_000), "2019-09-11T16:14:00-05:00");
        // 2024-03-10 01:59 is CST, 02:30 does not exist (pytz: 02:30 CST), 03:00 is CDT
        assert_eq!(at(chicago, 1_710_035_940_000), "2024-03-10T01:59:00-06:00");
        assert_eq!(at(chicago, 1_710_037_800_000), "2024-03-10T03:30:00-05:00");
        assert_eq!(at(chicago, 1_710_039_600_000), "2024-03-10T03:00:00-05:00");
        // 2024-11-03 01:30 happens twice: pytz picks standard time (CST, the later one)
        assert_eq!(at(chicago, 1_730_597_400_000), "2024-11-03T01:30:00-06:00");
        assert_eq!(at(chicago, 1_730_595_540_000), "2024-11-03T00:59:00-05:00");
        assert_eq!(at(chicago, 1_730_599_200_000), "2024-11-03T02:00:00-06:00");
    }
}
