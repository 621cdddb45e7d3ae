//! Facts a published item must carry (R8): who wrote it and where the
//! information comes from, read from the usual Vietnamese bylines:
//! "Bài, ảnh: Nguyễn Văn An", "Tác giả: …", "Người viết: …", "Tin: …",
//! "Nguồn: UBND xã Ea Sô", "Nguồn tin: …", "Theo …". Lines are matched on
//! their ASCII-folded form, the value keeps the writer's spelling.

use crate::text::{clean_line, fold_ascii, truncate_chars};

/// Author and source, when the text names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credits {
    pub author: Option<String>,
    pub source: Option<String>,
}

const AUTHOR_LABELS: &[&str] = &[
    "bai va anh",
    "bai, anh",
    "bai - anh",
    "bai/anh",
    "tin, anh",
    "tin va anh",
    "tin - anh",
    "tac gia",
    "nguoi viet",
    "but danh",
    "phong vien",
    "nhom phong vien",
    "bai",
    "tin",
];

const SOURCE_LABELS: &[&str] = &["nguon tin", "nguon"];

/// Characters at the start of a line that can hold a label and its colon.
const LABEL_SPAN: usize = 24;

/// The value after `label` at the start of a line: "Label: value".
fn labelled(line: &str, folded: &str, labels: &[&str]) -> Option<String> {
    labels.iter().find_map(|label| {
        let rest = folded.strip_prefix(label)?;
        let rest = rest.trim_start();
        if !rest.starts_with(':') {
            return None;
        }
        // Map the folded prefix length back to the original line: folding
        // keeps one character per character for Vietnamese text.
        let consumed = folded.chars().count() - rest.chars().count() + 1;
        let value: String = line.chars().skip(consumed).collect();
        tidy(&value)
    })
}

fn tidy(value: &str) -> Option<String> {
    let v = clean_line(value);
    let v = v.trim_matches(|c: char| {
        c == '.' || c == ';' || c == ',' || c == ')' || c == '(' || c.is_whitespace()
    });
    (!v.is_empty() && v.chars().count() <= 200).then(|| truncate_chars(v, 200))
}

/// Finds the byline and the source in an article's text.
pub fn credits(text: &str) -> Credits {
    let mut found = Credits::default();
    let lines: Vec<&str> = text
        .lines()
        .map(|raw| raw.trim().trim_start_matches(['(', '-', '–', '*']).trim())
        .filter(|l| !l.is_empty())
        .collect();
    for line in &lines {
        // Labels are short: fold only the start of the line.
        let folded = fold_ascii(&line.chars().take(LABEL_SPAN).collect::<String>());
        if found.author.is_none()
            && let Some(a) = labelled(line, &folded, AUTHOR_LABELS)
        {
            found.author = Some(a);
        } else if found.source.is_none() {
            found.source = labelled(line, &folded, SOURCE_LABELS);
        }
    }
    if found.source.is_none() {
        // "Theo Báo Đắk Nông" closing an article names its source; "Theo kế
        // hoạch, …" inside the text does not.
        found.source = lines.iter().rev().take(3).find_map(|line| {
            let folded = fold_ascii(line);
            let rest = folded.strip_prefix("theo ")?;
            if line.chars().count() > 80 || rest.contains(',') {
                return None;
            }
            let skip = line.chars().count() - rest.chars().count();
            tidy(&line.chars().skip(skip).collect::<String>())
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_bylines() {
        let c = credits("Nội dung.\n\nBài, ảnh: Nguyễn Văn An\nNguồn: UBND xã Ea Sô\n");
        assert_eq!(c.author.as_deref(), Some("Nguyễn Văn An"));
        assert_eq!(c.source.as_deref(), Some("UBND xã Ea Sô"));
        let c = credits("Tác giả : Trần Thị Bình.\n(Theo Báo Đắk Nông)");
        assert_eq!(c.author.as_deref(), Some("Trần Thị Bình"));
        assert_eq!(c.source.as_deref(), Some("Báo Đắk Nông"));
        let c = credits("Nguon tin: Hoi Nong dan xa\nNguoi viet: Le Van Cuong");
        assert_eq!(c.author.as_deref(), Some("Le Van Cuong"));
        assert_eq!(c.source.as_deref(), Some("Hoi Nong dan xa"));
    }

    #[test]
    fn prose_is_not_a_byline() {
        let c = credits(
            "Bài viết này nói về nguồn nước sạch.\nTheo kế hoạch, năm 2027 xã sẽ hoàn thành 20 chỉ tiêu.\nTheo đó, xã sẽ làm đường.\nHết.",
        );
        assert_eq!(c, Credits::default());
    }
}
