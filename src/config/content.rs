//! `[content]` (how submissions are read) and `[screening]` (the checks
//! that flag an article for the reviewer: R11, R12, R13).

use std::time::Duration;

use serde::Deserialize;

use super::{Interval, Size, parse_interval, parse_size};
use crate::content::docx::Limits;
use crate::content::refine::{ArticleFrom, Options};
use crate::content::screen::{self, WordList};

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawContent {
    article_from: Option<String>,
    max_photo_size: Option<Size>,
    max_photo_pixels: Option<u64>,
    docx_max_size: Option<Size>,
    read_budget: Option<Interval>,
}

/// How long reading one message may take before it is quarantined unread
/// (`content.read_budget`). Ordinary mail takes milliseconds, a large Word
/// file a second or two.
const DEFAULT_READ_BUDGET: Duration = Duration::from_secs(10);

/// The longest budget accepted: a message must not hold up its batch for
/// longer than this.
const MAX_READ_BUDGET: Duration = Duration::from_secs(600);

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawScreening {
    similarity: Option<f64>,
    lists: Option<Vec<RawWordList>>,
}

#[derive(Debug, Deserialize)]
struct RawWordList {
    name: String,
    rule: String,
    phrases: Vec<String>,
}

/// `content.read_budget`.
pub(super) fn resolve_read_budget(c: &RawContent, problems: &mut Vec<String>) -> Duration {
    let Some(v) = &c.read_budget else {
        return DEFAULT_READ_BUDGET;
    };
    let Some(budget) = parse_interval("content.read_budget", v, problems) else {
        return DEFAULT_READ_BUDGET;
    };
    if budget.is_zero() || budget > MAX_READ_BUDGET {
        problems.push(format!(
            "`content.read_budget` = {} s: give between 1 s and {} s, e.g. \"10s\"",
            budget.as_secs(),
            MAX_READ_BUDGET.as_secs()
        ));
        return DEFAULT_READ_BUDGET;
    }
    budget
}

/// The screening settings.
#[derive(Debug, Clone)]
pub struct Screening {
    /// Similarity from which a submission is flagged as a near copy (R12).
    pub similarity: f64,
}

pub(super) fn resolve_content(
    c: &RawContent,
    s: &RawScreening,
    problems: &mut Vec<String>,
) -> (Options, Screening) {
    let defaults = Options::default();
    let article_from = match c.article_from.as_deref().unwrap_or("auto") {
        "auto" => ArticleFrom::Auto,
        "body" => ArticleFrom::Body,
        "document" => ArticleFrom::Document,
        other => {
            problems.push(format!(
                "`content.article_from` = \"{other}\": use \"auto\" (the Word file when the mail body is only a cover note), \"body\" or \"document\""
            ));
            ArticleFrom::Auto
        }
    };
    let size = |key: &str, v: &Option<Size>, default: u64, problems: &mut Vec<String>| {
        v.as_ref()
            .and_then(|v| parse_size(key, v, problems))
            .unwrap_or(default)
    };
    let max_photo_size = size(
        "content.max_photo_size",
        &c.max_photo_size,
        defaults.max_photo_size,
        problems,
    );
    let docx_max = size(
        "content.docx_max_size",
        &c.docx_max_size,
        defaults.docx_limits.max_total_uncompressed,
        problems,
    );
    let similarity = s.similarity.unwrap_or(0.5);
    if !(0.1..=1.0).contains(&similarity) {
        problems.push(format!(
            "`screening.similarity` = {similarity}: give a share between 0.1 and 1.0, e.g. 0.5 (half the article's word sequences in common)"
        ));
    }
    let word_lists = match &s.lists {
        None => screen::default_lists(),
        Some(lists) => {
            for l in lists {
                if !["R11", "R13"].contains(&l.rule.as_str()) {
                    problems.push(format!(
                        "`screening.lists` \"{}\": rule = \"{}\"; use \"R11\" (prohibited content) or \"R13\" (advertising)",
                        l.name, l.rule
                    ));
                }
            }
            lists
                .iter()
                .map(|l| WordList {
                    name: l.name.clone(),
                    rule: l.rule.clone(),
                    phrases: l
                        .phrases
                        .iter()
                        .map(|p| crate::text::clean_line(p))
                        .filter(|p| !p.is_empty())
                        .collect(),
                })
                .collect()
        }
    };
    let options = Options {
        article_from,
        max_photo_size,
        max_photo_pixels: c.max_photo_pixels.unwrap_or(defaults.max_photo_pixels),
        docx_limits: Limits {
            max_total_uncompressed: docx_max,
            max_entry_uncompressed: defaults.docx_limits.max_entry_uncompressed.min(docx_max),
            ..defaults.docx_limits
        },
        word_lists,
        enforce: true,
    };
    (options, Screening { similarity })
}
