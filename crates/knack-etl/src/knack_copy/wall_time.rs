//! Dates written to Knack: Knack reads a timestamp as local wall time in the app's timezone
//! (the original wrote `arrow.now(tz).replace(tzinfo="UTC").timestamp * 1000`), so an instant is
//! sent as the milliseconds of its wall-clock reading in the destination app's timezone,
//! labelled UTC. <https://docs.knack.com/docs/working-with-fields>

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use knack_client::correct_knack_timestamp;
use serde_json::Value;

use super::canonical::knack_date_millis;

/// The value Knack expects for `instant` in an app whose timezone is `tz`: the wall-clock time
/// there, as milliseconds since the epoch read as if it were UTC.
pub(crate) fn knack_wall_millis(instant: DateTime<Utc>, tz: Tz) -> i64 {
    instant
        .with_timezone(&tz)
        .naive_local()
        .and_utc()
        .timestamp_millis()
}

/// A source value made ready for the destination: a Knack date object from the source app
/// (wall time in `from`) becomes the same instant's wall time in `to`, in milliseconds; any
/// other value is returned as is.
pub(crate) fn rezone(value: Value, from: Tz, to: Tz) -> Value {
    let Some(source_wall) = knack_date_millis(&value) else {
        return value;
    };
    if from == to {
        // Same clock on both sides: Knack's wall time is copied as shown, even one a DST change
        // skips (02:30 on a spring-forward night), which a round trip through UTC would move.
        return Value::from(source_wall);
    }
    match correct_knack_timestamp(source_wall, from) {
        Some(instant) => Value::from(knack_wall_millis(instant, to)),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::{Chicago, Phoenix};
    use serde_json::json;

    fn ms(iso: &str) -> i64 {
        iso.parse::<DateTime<Utc>>().unwrap().timestamp_millis()
    }

    #[test]
    fn instants_either_side_of_spring_forward_are_written_as_chicago_wall_time() {
        // 2024-03-10 02:00 CST → 03:00 CDT. The same 18:00 UTC is noon before, 1 pm after.
        assert_eq!(
            knack_wall_millis("2024-03-09T18:00:00Z".parse().unwrap(), Chicago),
            ms("2024-03-09T12:00:00Z")
        );
        assert_eq!(
            knack_wall_millis("2024-03-11T18:00:00Z".parse().unwrap(), Chicago),
            ms("2024-03-11T13:00:00Z")
        );
    }

    #[test]
    fn a_source_date_is_rezoned_to_the_destination_apps_wall_time() {
        // Phoenix keeps MST all year; Chicago moves. 11:00 in Phoenix is 18:00 UTC.
        let before = json!({"date": "03/09/2024", "unix_timestamp": ms("2024-03-09T11:00:00Z")});
        let after = json!({"date": "03/11/2024", "unix_timestamp": ms("2024-03-11T11:00:00Z")});
        assert_eq!(
            rezone(before, Phoenix, Chicago),
            json!(ms("2024-03-09T12:00:00Z"))
        );
        assert_eq!(
            rezone(after, Phoenix, Chicago),
            json!(ms("2024-03-11T13:00:00Z"))
        );
        // Same timezone: the wall time is kept, even one the spring-forward skips.
        let skipped = json!({"unix_timestamp": ms("2024-03-10T02:30:00Z")});
        assert_eq!(
            rezone(skipped, Chicago, Chicago),
            json!(ms("2024-03-10T02:30:00Z"))
        );
        let same = json!({"unix_timestamp": ms("2024-03-11T11:00:00Z")});
        assert_eq!(
            rezone(same, Chicago, Chicago),
            json!(ms("2024-03-11T11:00:00Z"))
        );
        assert_eq!(rezone(json!("x"), Phoenix, Chicago), json!("x"));
    }
}
