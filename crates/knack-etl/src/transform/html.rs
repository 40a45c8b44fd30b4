//! Making text safe for ArcGIS, which refuses attribute values that look like HTML
//! ("Invalid untrusted HTML content detected in field").
//!
//! Written by hand rather than with an HTML crate: Knack's rich text is simple markup from its own
//! editor, and all that is needed is its text content with line breaks kept, a few dozen lines;
//! `html2text` or `scraper` would pull in an HTML5 parser for it.

/// The original's rule for short and paragraph text (`sanitize_html` in atd-knack-services): a
/// value holding both `<` and `>` loses every `<` and `>`. Kept byte for byte so features already
/// in a layer do not change.
pub(crate) fn strip_angle_brackets(text: &mut String) {
    if text.contains('<') && text.contains('>') {
        text.retain(|c| c != '<' && c != '>');
    }
}

/// The text a rich-text value shows: tags removed, block ends and `<br>` as line breaks,
/// entities decoded, spaces collapsed, blank lines dropped. `<p>Needs <strong>repair</strong></p>`
/// gives `Needs repair`.
pub(crate) fn text_content(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        text.push_str(&rest[..at]);
        let tag = &rest[at + 1..];
        let starts_tag = tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match tag.find('>') {
            Some(end) if starts_tag => {
                if breaks_line(&tag[..end]) {
                    text.push('\n');
                }
                rest = &tag[end + 1..];
            }
            _ => {
                text.push('<');
                rest = tag;
            }
        }
    }
    text.push_str(rest);
    let decoded = decode_entities(&text);
    decoded
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a tag (its text between `<` and `>`) ends a line: `<br>`, and the end of a block.
fn breaks_line(tag: &str) -> bool {
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let closing = tag.starts_with('/');
    name == "br"
        || (closing
            && matches!(
                name.as_str(),
                "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol"
            ))
}

/// Decodes the named entities Knack's editor writes and numeric ones; anything else stays.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let decoded = tail.find(';').filter(|end| *end <= 10).and_then(|end| {
            let c = match &tail[1..end] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" | "#39" => '\'',
                "nbsp" => ' ',
                num => {
                    let code = match num.strip_prefix("#x").or_else(|| num.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rich_text_becomes_its_readable_text() {
        assert_eq!(
            text_content("<p>Needs <strong>repair</strong></p>"),
            "Needs repair"
        );
        assert_eq!(
            text_content(
                "<p>Line one<br />Line&nbsp;two</p><ul><li>a &amp; b</li><li>x &lt; y</li></ul>"
            ),
            "Line one\nLine two\na & b\nx < y"
        );
        assert_eq!(text_content("a < b and c > d"), "a < b and c > d");
        assert_eq!(text_content("&#233;t&#xE9; &bogus; &"), "été &bogus; &");
    }

    #[test]
    fn the_original_rule_strips_brackets_only_when_both_are_there() {
        let mut s = "<b>5TH</b> ST".to_string();
        strip_angle_brackets(&mut s);
        assert_eq!(s, "b5TH/b ST");
        let mut s = "a < b".to_string();
        strip_angle_brackets(&mut s);
        assert_eq!(s, "a < b");
    }
}
