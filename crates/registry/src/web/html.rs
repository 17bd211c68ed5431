//! HTML building blocks of the web UI: escaping, the page frame with its navigation, time and size formatting, and the embedded stylesheet.
//!
//! Every dynamic value reaches the page through [`esc`] (text and attribute
//! values alike: it escapes `& < > " '`), so a package name, an audit detail or a
//! certificate identity can never become markup. Pages carry no inline script or
//! style: the Content-Security-Policy (`default-src 'self'`) allows neither, and the
//! stylesheet is served from `/static/vouch.css`.

use std::fmt::Write as _;

use vouch_store::meta::Timestamp;

/// The stylesheet, compiled into the binary.
pub const STYLESHEET: &str = include_str!("style.css");

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    escape_with(s, "&#39;")
}

/// [`esc`] with `apostrophe` as the character reference written for `'` (the Python
/// index writes `&#x27;`, as Python's `html.escape` does).
pub fn escape_with(s: &str, apostrophe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str(apostrophe),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A Unix time as RFC 3339 (UTC), or the raw number when out of range.
pub fn time(t: Timestamp) -> String {
    jiff::Timestamp::from_second(t.0)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.0.to_string())
}

/// An audit event's details (a JSON object) as a definition list: each key a `<dt>`,
/// each value a `<dd>` (strings as they are, nested objects and arrays as compact
/// JSON), all escaped. Details that are not an object are shown as escaped text.
pub fn details(details_json: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(details_json) else {
        return format!("<code>{}</code>", esc(details_json));
    };
    if map.is_empty() {
        return String::new();
    }
    let mut out = String::from(r#"<dl class="details">"#);
    for (k, v) in &map {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&text));
    }
    out.push_str("</dl>");
    out
}

/// Parses a size as people write it: a number (a decimal fraction allowed) and an
/// optional unit, `B`, `KB`/`MB`/`GB` (powers of 1000) or `KiB`/`MiB`/`GiB` (powers of
/// 1024), case-insensitive, spaces allowed between: `500MiB`, `2 GiB`, `1.5GB`,
/// `1048576`. A fraction of a byte is dropped. The one parser of the web form's hash
/// budget and of `vouch admin settings hash-budget`; the error says what was expected.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let expected =
        || format!("expected a size like 500MiB, 2GiB, 1.5GB or a number of bytes, found {text:?}");
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(expected()),
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') || frac.len() > 9 {
        return Err(expected());
    }
    let digits = |s: &str| -> Result<u128, String> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse::<u128>().map_err(|_| expected())
        }
    };
    let (whole, frac_digits) = (digits(whole)?, digits(frac)?);
    // At most 9 fraction digits and a scale under 2^31: no overflow in u128.
    let frac_bytes = frac_digits * scale / 10u128.pow(frac.len() as u32);
    let bytes = whole
        .checked_mul(scale)
        .and_then(|b| b.checked_add(frac_bytes))
        .ok_or_else(expected)?;
    u64::try_from(bytes).map_err(|_| format!("{text:?} is more bytes than a u64 holds"))
}

/// A byte count with its binary unit (`500 MiB`), exact bytes in parentheses.
pub fn bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            let whole = n / size;
            let tenths = (n % size) * 10 / size;
            return if tenths == 0 {
                format!("{whole} {unit} ({n} bytes)")
            } else {
                format!("{whole}.{tenths} {unit} ({n} bytes)")
            };
        }
    }
    format!("{n} bytes")
}

/// Who is looking at a page: the navigation differs for a signed-in administrator
/// (whose sign-out form needs the session's CSRF token).
pub enum Viewer<'a> {
    Public,
    Admin { label: &'a str, csrf: &'a str },
}

/// A whole HTML document: the frame, the navigation, then `body` (already escaped
/// markup built by the caller).
pub fn page(title: &str, viewer: &Viewer<'_>, body: &str) -> String {
    let nav = match viewer {
        Viewer::Public => String::from(r#"<a href="/admin/security">Administration</a>"#),
        Viewer::Admin { label, csrf } => format!(
            r#"<a href="/admin/security">Security</a> <a href="/admin/audit">Audit log</a>
<span class="who">signed in as {}</span>
<form method="post" action="/admin/logout" class="inline"><input type="hidden" name="csrf" value="{}"><button type="submit" class="link">Sign out</button></form>"#,
            esc(label),
            esc(csrf)
        ),
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · vouch</title>
<link rel="stylesheet" href="/static/vouch.css">
</head>
<body>
<header><span class="brand">vouch</span><nav>{nav}</nav></header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
    )
}

/// A notice box: `kind` is `ok` or `error`; `code` (a stable error code) is shown
/// first when present.
pub fn notice(kind: &str, code: Option<&str>, text: &str) -> String {
    let code = code
        .map(|c| format!(r#"<code class="code" data-code="{0}">{0}</code> "#, esc(c)))
        .unwrap_or_default();
    format!(
        r#"<p class="notice {}" role="status">{code}{}</p>"#,
        esc(kind),
        esc(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("release.a b&c=d"), "release.a%20b%26c%3Dd");
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(bytes(500 << 20), "500 MiB (524288000 bytes)");
    }

    #[test]
    fn audit_details_are_an_escaped_definition_list() {
        assert_eq!(
            details(r#"{"oldKid":"a<b","n":2,"via":{"x":[1]}}"#),
            r#"<dl class="details"><dt>n</dt><dd>2</dd><dt>oldKid</dt><dd>a&lt;b</dd><dt>via</dt><dd>{&quot;x&quot;:[1]}</dd></dl>"#
        );
        assert_eq!(details("{}"), "");
        assert_eq!(details("<x>"), "<code>&lt;x&gt;</code>");
    }

    #[test]
    fn sizes_as_people_write_them() {
        for (text, want) in [
            ("500MiB", 500u64 << 20),
            ("2 GiB", 2 << 30),
            ("1.5GB", 1_500_000_000),
            ("1.5gib", 3 << 29),
            ("7", 7),
            ("7B", 7),
            (" 64 KB ", 64_000),
            (".5KiB", 512),
        ] {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "MiB",
            "x",
            "-1",
            "1..5GB",
            "1 TiB",
            "5 MiBs",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(bytes(1536), "1.5 KiB (1536 bytes)");
        assert_eq!(bytes(12), "12 bytes");
        assert_eq!(time(Timestamp(0)), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn page_escapes_title_and_viewer() {
        let p = page(
            "<t>",
            &Viewer::Admin {
                label: "<l>",
                csrf: "\"c",
            },
            "",
        );
        assert!(p.contains("&lt;t&gt;") && !p.contains("<t>"));
        assert!(p.contains("&lt;l&gt;") && p.contains("&quot;c"));
    }
}
