//! Routing (R3): which category a submission belongs to and who approves
//! it. Rules come from `[[routes]]` in the config, first match wins: a
//! subject tag such as `[Đảng]`, a keyword in the title or text, or the
//! unit of the sending member. Everything else goes to the default
//! approver. Pure: the same article always gets the same route.

use std::sync::LazyLock;

use regex::Regex;

use crate::config::{Approver, Config};
use crate::text::fold_ascii;

/// Where a submission goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The route's category, empty when the default applied.
    pub category: String,
    pub approver: Approver,
    /// Why: for the ticket's history.
    pub because: String,
}

static SUBJECT_TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\[([^\[\]]{1,60})\]").ok());

/// Tags written in square brackets in a subject, folded.
fn subject_tags(subject: &str) -> Vec<String> {
    let Some(re) = SUBJECT_TAG.as_ref() else {
        return Vec::new();
    };
    re.captures_iter(subject)
        .filter_map(|c| c.get(1))
        .map(|m| fold_ascii(m.as_str().trim()))
        .collect()
}

/// Whether `needle` appears in `haystack` as whole words (both folded).
fn contains_words(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| {
        let before = haystack.get(..i).and_then(|s| s.chars().next_back());
        let after = haystack
            .get(i + needle.len()..)
            .and_then(|s| s.chars().next());
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Routes a submission.
pub fn route(
    config: &Config,
    subject: &str,
    title: &str,
    body_text: &str,
    sender_unit: &str,
) -> Routed {
    let tags = subject_tags(subject);
    let text = fold_ascii(&format!("{title}\n{body_text}"));
    let unit = fold_ascii(sender_unit);
    for r in &config.routes {
        let by_tag = || {
            r.tags
                .iter()
                .find(|t| tags.contains(t))
                .map(|t| format!("subject tag [{t}]"))
        };
        let by_keyword = || {
            r.keywords
                .iter()
                .find(|k| contains_words(&text, k))
                .map(|k| format!("keyword \"{k}\""))
        };
        let by_unit = || {
            r.units
                .iter()
                .find(|u| !unit.is_empty() && contains_words(&unit, u))
                .map(|u| format!("sender's unit \"{u}\""))
        };
        let because = by_tag().or_else(by_keyword).or_else(by_unit);
        if let Some(because) = because {
            return Routed {
                category: r.category.clone(),
                approver: r.approver.clone(),
                because,
            };
        }
    }
    Routed {
        category: String::new(),
        approver: config.review.default_approver.clone(),
        because: "default route".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;
    use std::path::Path;

    fn config() -> Config {
        Config::from_toml(
            Path::new("/etc/bientap/t.toml"),
            r#"
            [board]
            name = "BBT"
            address = "bbt@xa.vn"
            [storage]
            state_dir = "/tmp/x"
            [maildir]
            path = "/tmp/md"
            [review]
            default_approver = "deputy"
            [[members]]
            name = "Trưởng ban"
            email = "tb@xa.vn"
            roles = ["head"]
            [[members]]
            name = "Phó ban"
            email = "pb@xa.vn"
            roles = ["deputy"]
            [[routes]]
            category = "Xây dựng Đảng"
            tags = ["Đảng", "MTTQ"]
            keywords = ["chi bộ", "Đảng ủy"]
            units = ["Ban Tuyên giáo"]
            approver = "head"
            [[routes]]
            category = "Chính quyền"
            tags = ["UBND"]
            keywords = ["HĐND"]
            approver = "pb@xa.vn"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn tags_keywords_units_and_default() {
        let c = config();
        let r = route(&c, "[Đảng] Hội nghị", "Hội nghị", "", "");
        assert_eq!(
            (r.category.as_str(), &r.approver),
            ("Xây dựng Đảng", &Approver::Role(Role::Head))
        );
        assert_eq!(r.because, "subject tag [dang]");

        let r = route(&c, "Tin", "Đại hội Chi bộ thôn 3", "", "");
        assert_eq!(r.category, "Xây dựng Đảng");

        let r = route(&c, "Tin", "Kỳ họp", "Kỳ họp thứ 5 HĐND xã", "");
        assert_eq!(r.approver, Approver::Member("pb@xa.vn".into()));

        let r = route(&c, "Tin", "Tập huấn", "", "Ban Tuyên giáo Huyện ủy");
        assert_eq!(r.category, "Xây dựng Đảng");

        let r = route(&c, "Tin thể thao", "Giải bóng đá", "", "");
        assert_eq!(
            (r.category.as_str(), &r.approver),
            ("", &Approver::Role(Role::Deputy))
        );
    }

    #[test]
    fn keywords_match_whole_words_only() {
        let c = config();
        // "chi bộ" folds to "chi bo"; "chi boong" must not match it.
        assert_eq!(route(&c, "", "Chi boong tàu", "", "").category, "");
    }
}
