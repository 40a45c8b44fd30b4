//! What a request costs a fake server in time: its latency plus a cost per item it carries
//! ([`items_sent`]: the rows, records or features in its body), so a benchmark can model a real
//! service whose answer time grows with the batch.

/// How many items a request body carries: the elements of a JSON array body (PostgREST and
/// Socrata upserts), 1 for a JSON object (a Knack record), and for a form body (ArcGIS) the
/// features of its `adds`, `updates` and `features` parameters. 0 for an empty or other body.
pub fn items_sent(body: &[u8]) -> usize {
    match first_byte(body) {
        Some(b'[') => array_len(body),
        Some(b'{') => 1,
        Some(_) => url::form_urlencoded::parse(body)
            .filter(|(k, _)| matches!(k.as_ref(), "adds" | "updates" | "features"))
            .map(|(_, v)| array_len(v.as_bytes()))
            .sum(),
        None => 0,
    }
}

fn first_byte(s: &[u8]) -> Option<u8> {
    s.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// The number of top-level elements of a JSON array (0 when `s` is not one), counted without
/// parsing: commas at depth 1, outside strings.
fn array_len(s: &[u8]) -> usize {
    if first_byte(s) != Some(b'[') {
        return 0;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let (mut commas, mut any) = (0usize, false);
    for &b in s {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                any |= depth == 1;
            }
            b'[' | b'{' => {
                any |= depth == 1;
                depth += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => commas += 1,
            b if depth == 1 && !b.is_ascii_whitespace() => any = true,
            _ => {}
        }
    }
    if any {
        commas + 1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::items_sent;

    #[test]
    fn items_are_counted_in_json_arrays_objects_and_arcgis_forms() {
        assert_eq!(items_sent(br#"[{"a":"x,]"},{"b":[1,2]}, 3]"#), 3);
        assert_eq!(items_sent(b" [] "), 0);
        assert_eq!(items_sent(br#"{"field_1":"a"}"#), 1);
        assert_eq!(items_sent(b""), 0);
        let form = "adds=%5B%7B%22attributes%22%3A%7B%7D%7D%2C%7B%7D%5D&updates=%5B%7B%7D%5D&rollbackOnFailure=true";
        assert_eq!(items_sent(form.as_bytes()), 3);
        assert_eq!(items_sent(b"where=1%3D1&f=json"), 0);
    }
}
