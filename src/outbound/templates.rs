//! The Vietnamese mail templates (files next to this module, embedded at
//! build time) and the helpers they need: dates on the board's clock and
//! sizes written the Vietnamese way.
//!
//! A text template starts with a `Subject:` line and a blank line; the rest
//! is the body. Rendered text is NFC (R24): the templates are written in
//! NFC and values are cleaned before they get here; `render` checks anyway.

use anyhow::{Context, Result, anyhow};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::{Environment, Value};

use crate::text;

const TEMPLATES: &[(&str, &str)] = &[
    ("receipt.txt", include_str!("templates/receipt.txt")),
    ("notify.txt", include_str!("templates/notify.txt")),
    ("notify.html", include_str!("templates/notify.html")),
    ("confirm.txt", include_str!("templates/confirm.txt")),
    ("approved.txt", include_str!("templates/approved.txt")),
    ("rejected.txt", include_str!("templates/rejected.txt")),
    ("changes.txt", include_str!("templates/changes.txt")),
    (
        "version_received.txt",
        include_str!("templates/version_received.txt"),
    ),
    ("explain.txt", include_str!("templates/explain.txt")),
    (
        "held_classified.txt",
        include_str!("templates/held_classified.txt"),
    ),
    ("remind.txt", include_str!("templates/remind.txt")),
    ("escalate.txt", include_str!("templates/escalate.txt")),
    ("quota.txt", include_str!("templates/quota.txt")),
    ("quota_head.txt", include_str!("templates/quota_head.txt")),
    ("quarter.txt", include_str!("templates/quarter.txt")),
    ("published.txt", include_str!("templates/published.txt")),
    (
        "published_approver.txt",
        include_str!("templates/published_approver.txt"),
    ),
    ("resent.txt", include_str!("templates/resent.txt")),
    ("classified.txt", include_str!("templates/classified.txt")),
    ("link_code.txt", include_str!("templates/link_code.txt")),
    (
        "zalo_link_sent.txt",
        include_str!("templates/zalo_link_sent.txt"),
    ),
    ("zalo_linked.txt", include_str!("templates/zalo_linked.txt")),
    (
        "zalo_link_wrong.txt",
        include_str!("templates/zalo_link_wrong.txt"),
    ),
];

/// A rendered mail: subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .with_context(|| format!("Template {name} does not parse"))?;
    }
    Ok(env)
}

/// The templates, compiled once.
static ENVIRONMENT: std::sync::LazyLock<Result<Environment<'static>, String>> =
    std::sync::LazyLock::new(|| environment().map_err(|e| format!("{e:#}")));

fn shared() -> Result<&'static Environment<'static>> {
    ENVIRONMENT.as_ref().map_err(|e| anyhow!("{e}"))
}

/// Renders a text template into subject and body.
pub fn render(name: &str, ctx: &Value) -> Result<Rendered> {
    let env = shared()?;
    let out = env
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .with_context(|| format!("Cannot render the mail template {name}"))?;
    let (first, body) = out.split_once('\n').unwrap_or((out.as_str(), ""));
    let subject = first
        .strip_prefix("Subject:")
        .ok_or_else(|| anyhow!("Template {name} must start with a Subject: line"))?;
    Ok(Rendered {
        subject: text::clean_line(subject),
        text: text::clean_text(body.trim_start_matches('\n'))
            .trim_end()
            .to_string()
            + "\n",
    })
}

/// Renders an HTML template (auto-escaped, sanitized input marked safe).
pub fn render_html(name: &str, ctx: &Value) -> Result<String> {
    let env = shared()?;
    let out = env
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .with_context(|| format!("Cannot render the mail template {name}"))?;
    Ok(text::nfc(&out))
}

const WEEKDAYS: [&str; 7] = [
    "Thứ Hai",
    "Thứ Ba",
    "Thứ Tư",
    "Thứ Năm",
    "Thứ Sáu",
    "Thứ Bảy",
    "Chủ nhật",
];

/// "08:15 Thứ Năm, 26/11/2026" on the board's clock.
pub fn vi_time(ms: i64, tz: &TimeZone) -> String {
    let Ok(t) = Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let z = t.to_zoned_datetime(tz.clone());
    let weekday = usize::try_from(z.weekday().to_monday_zero_offset())
        .ok()
        .and_then(|i| WEEKDAYS.get(i))
        .copied()
        .unwrap_or_default();
    format!(
        "{:02}:{:02} {weekday}, {:02}/{:02}/{}",
        z.hour(),
        z.minute(),
        z.day(),
        z.month(),
        z.year()
    )
}

/// "1,2 MB", "350 KB", "12 byte".
pub fn vi_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b >= 1_048_576.0 {
        format!("{:.1} MB", b / 1_048_576.0).replace('.', ",")
    } else if b >= 1024.0 {
        format!("{:.0} KB", b / 1024.0)
    } else {
        format!("{bytes} byte")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::{IsNormalized, is_nfc_quick};

    #[test]
    fn every_template_parses_and_is_nfc() {
        let env = environment().unwrap();
        for (name, source) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
            assert_eq!(
                is_nfc_quick(source.chars()),
                IsNormalized::Yes,
                "{name} is not NFC"
            );
        }
    }

    #[test]
    fn receipt_renders_in_vietnamese() {
        #[derive(serde::Serialize)]
        struct A {
            filename: &'static str,
            size: String,
        }
        let r = render(
            "receipt.txt",
            &minijinja::context! {
                code => "BBT-2026-0001",
                title => "Hội nghị",
                sender_name => "",
                board_name => "Ban biên tập",
                received => "08:15 Thứ Hai, 23/11/2026",
                due => "08:15 Thứ Năm, 26/11/2026",
                attachments => Value::from(minijinja::value::Serde(vec![A { filename: "Ảnh.jpg", size: vi_size(7982) }])),
                signature => "Ban biên tập\nĐT: 0262 123 456",
            },
        )
        .unwrap();
        assert_eq!(r.subject, "[BBT-2026-0001] Đã nhận bài: Hội nghị");
        assert!(
            r.text.starts_with("Kính gửi Quý cộng tác viên,"),
            "{}",
            r.text
        );
        assert!(r.text.contains("    - Ảnh.jpg (8 KB)"), "{}", r.text);
        assert!(
            r.text.contains("Hạn duyệt:      08:15 Thứ Năm, 26/11/2026"),
            "{}",
            r.text
        );
    }

    #[test]
    fn dates_and_sizes() {
        let tz = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let ms = "2026-11-26T01:15:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        assert_eq!(vi_time(ms, &tz), "08:15 Thứ Năm, 26/11/2026");
        assert_eq!(vi_size(1_300_000), "1,2 MB");
        assert_eq!(vi_size(500), "500 byte");
    }
}
