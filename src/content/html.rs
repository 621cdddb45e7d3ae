//! HTML in and out: sanitizing untrusted HTML (invariant 6), turning plain
//! text into paragraphs, and HTML back into readable text.
//!
//! Sanitizing uses ammonia with an allowlist fit for a news article: text
//! structure, lists, tables, links and images. No scripts, styles, event
//! handlers, forms, frames or relative URLs survive. Images may only point at
//! attachments of the same message (`cid:` in the mail, rewritten to
//! `attachment:<sha256>`); remote images are dropped so that opening a ticket
//! never tells a tracker that a reviewer read it.
//!
//! Before the sanitizer parses it, HTML nested deeper than
//! `depth::MAX_DEPTH` is flattened (`depth::bound`): building the tree of
//! deeply nested HTML costs time quadratic in its depth. Turning HTML into
//! text reads tokens only and is linear.

mod depth;

pub use depth::MAX_DEPTH;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, CharacterTokens, EndTag, NullCharacterToken, StartTag, TagToken, Token, TokenSink,
    TokenSinkResult, Tokenizer, TokenizerOpts,
};

use crate::text::{clean_text, escape_html, without_bidi_overrides};

/// The scheme that points an `<img>` at an archived attachment.
pub const ATTACHMENT_SCHEME: &str = "attachment:";

const ALLOWED_TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Elements removed together with everything inside them.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "title", "noscript", "template", "xml", "iframe", "object", "embed", "svg",
    "math", "head", "select", "textarea", "button",
];

/// Sanitizes untrusted HTML. `cid_map` maps a Content-ID (without angle
/// brackets) to the SHA-256 of the attachment that carries it. What comes
/// out is nested at most about `MAX_DEPTH` deep.
pub fn sanitize(html: &str, cid_map: &BTreeMap<String, String>) -> String {
    let cid_map = cid_map.clone();
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(ALLOWED_TAGS.iter().copied().collect::<HashSet<_>>())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect::<HashSet<_>>())
        .add_tag_attributes("a", ["href", "title"])
        .add_tag_attributes("img", ["src", "alt", "title", "width", "height"])
        .add_tag_attributes("td", ["colspan", "rowspan"])
        .add_tag_attributes("th", ["colspan", "rowspan", "scope"])
        .add_tag_attributes("ol", ["start"])
        .add_tag_attributes("col", ["span"])
        .add_tag_attributes("colgroup", ["span"])
        .add_generic_attributes(["lang", "title"])
        .url_schemes(
            ["http", "https", "mailto", "tel", "cid"]
                .into_iter()
                .collect(),
        )
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true)
        .attribute_filter(
            move |element, attribute, value| match (element, attribute) {
                ("img", "src") => {
                    let cid = value.strip_prefix("cid:")?;
                    let cid = cid.trim().trim_matches(['<', '>']);
                    cid_map
                        .get(cid)
                        .map(|sha| format!("{ATTACHMENT_SCHEME}{sha}").into())
                }
                ("a", "href") if value.starts_with("cid:") => None,
                ("img" | "td" | "th" | "ol" | "col" | "colgroup", _)
                    if is_number_attr(attribute) =>
                {
                    value
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .map(|n| n.min(10_000).to_string().into())
                }
                _ => Some(value.into()),
            },
        );
    let clean = builder.clean(&depth::bound(&clean_text(html))).to_string();
    // Cleaned again on the way out, without normalizing: character
    // references (`&#x202E;`) are characters only once parsed, and bidi
    // overrides must not reorder what the reviewer and the portal's readers
    // see (text::clean_text). U+0338 is written as a reference, as
    // `escape_html` does: after a tag's `>` it would compose with it if
    // anything normalized the HTML later, and eat the end of the tag.
    without_bidi_overrides(&clean).replace('\u{338}', "&#x338;")
}

fn is_number_attr(attribute: &str) -> bool {
    matches!(
        attribute,
        "width" | "height" | "colspan" | "rowspan" | "start" | "span"
    )
}

/// Turns plain text into HTML paragraphs: blank lines separate paragraphs,
/// single line breaks become `<br>`.
pub fn text_to_html(text: &str) -> String {
    let text = clean_text(text);
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for para in text.split("\n\n") {
        let lines: Vec<&str> = para
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        out.push_str("<p>");
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            out.push_str(&escape_html(line));
        }
        out.push_str("</p>\n");
    }
    out
}

/// Most "> " marks before a quoted line: deeper quotes are marked as this
/// deep, so that the text of a deeply nested message stays about as long
/// as its HTML.
const MAX_QUOTE_MARKS: usize = 10;

/// Renders HTML as plain text: block elements end lines, list items get a
/// dash, quoted parts (blockquote and the reply containers of common mail
/// clients) get "> " prefixes so that quote stripping can find them.
pub fn to_text(html: &str) -> String {
    let sink = TextSink::default();
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let state = tokenizer.sink.state.into_inner();
    finish_text(&state.out)
}

/// Collapses runs of blank lines and trims trailing spaces.
fn finish_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank_run = 0;
    for line in raw.lines() {
        let line = line.trim_end();
        let is_blank = line.trim_start_matches('>').trim().is_empty();
        if is_blank {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[derive(Default)]
struct TextSink {
    state: RefCell<TextState>,
}

#[derive(Default)]
struct TextState {
    out: String,
    /// Depth inside elements whose content is not text (script, style…).
    skip_depth: usize,
    /// Quote nesting: each level prefixes lines with "> ".
    quote_depth: usize,
    /// Open elements that opened a quote level, by tag name, innermost last.
    quote_stack: Vec<(String, usize)>,
    pre_depth: usize,
    at_line_start: bool,
    pending_space: bool,
    /// Nesting of all open elements, to close quote levels at the right end tag.
    depth: usize,
}

impl TextState {
    fn newline(&mut self) {
        self.out.push('\n');
        self.at_line_start = true;
        self.pending_space = false;
    }

    fn ensure_line_break(&mut self) {
        if !self.at_line_start && !self.out.is_empty() {
            self.newline();
        }
    }

    fn push_text(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' && self.pre_depth > 0 {
                self.newline();
                continue;
            }
            if c.is_whitespace() && self.pre_depth == 0 {
                self.pending_space = !self.at_line_start;
                continue;
            }
            if self.at_line_start {
                for _ in 0..self.quote_depth.min(MAX_QUOTE_MARKS) {
                    self.out.push_str("> ");
                }
                self.at_line_start = false;
            } else if self.pending_space {
                self.out.push(' ');
            }
            self.pending_space = false;
            self.out.push(c);
        }
    }
}

fn opens_quote(name: &str, attrs: &[html5ever::Attribute]) -> bool {
    if name == "blockquote" {
        return true;
    }
    attrs.iter().any(|a| {
        let key = &*a.name.local;
        let value = a.value.to_ascii_lowercase();
        (key == "class"
            && value.split_whitespace().any(|c| {
                matches!(
                    c,
                    "gmail_quote"
                        | "yahoo_quoted"
                        | "moz-cite-prefix"
                        | "protonmail_quote"
                        | "zmail_extra"
                )
            }))
            || (key == "id"
                && matches!(
                    value.as_str(),
                    "divrplyfwdmsg" | "appendonsend" | "mail-editor-reference-message-container"
                ))
    })
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.state.borrow_mut();
        match token {
            TagToken(tag) => {
                let name = tag.name.to_string();
                let void = matches!(
                    name.as_str(),
                    "br" | "hr"
                        | "img"
                        | "meta"
                        | "link"
                        | "input"
                        | "col"
                        | "wbr"
                        | "area"
                        | "base"
                        | "source"
                );
                if DROPPED_WITH_CONTENT.contains(&name.as_str()) {
                    match tag.kind {
                        StartTag if !tag.self_closing => st.skip_depth += 1,
                        EndTag => st.skip_depth = st.skip_depth.saturating_sub(1),
                        StartTag => {}
                    }
                    return TokenSinkResult::Continue;
                }
                if st.skip_depth > 0 {
                    return TokenSinkResult::Continue;
                }
                match tag.kind {
                    StartTag => {
                        match name.as_str() {
                            "br" => st.newline(),
                            "p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table"
                            | "ul" | "ol" | "pre" | "section" | "article" | "header" | "footer"
                            | "figure" | "dl" => {
                                st.ensure_line_break();
                                if matches!(name.as_str(), "p" | "h1" | "h2" | "h3" | "table") {
                                    st.newline();
                                }
                            }
                            "tr" | "dt" | "dd" | "figcaption" => st.ensure_line_break(),
                            "hr" => {
                                st.ensure_line_break();
                                st.push_text("----");
                                st.newline();
                            }
                            "li" => {
                                st.ensure_line_break();
                                st.push_text("- ");
                            }
                            "td" | "th" if !st.at_line_start => st.out.push('\t'),
                            "img" => {
                                if let Some(alt) =
                                    tag.attrs.iter().find(|a| &*a.name.local == "alt")
                                    && !alt.value.trim().is_empty()
                                {
                                    let alt = format!("[{}]", alt.value.trim());
                                    st.push_text(&alt);
                                }
                            }
                            _ => {}
                        }
                        if name == "pre" {
                            st.pre_depth += 1;
                        }
                        if !void && !tag.self_closing {
                            st.depth += 1;
                            if opens_quote(&name, &tag.attrs) {
                                st.ensure_line_break();
                                st.quote_depth += 1;
                                let depth = st.depth;
                                st.quote_stack.push((name, depth));
                            }
                        }
                    }
                    EndTag => {
                        if void {
                            return TokenSinkResult::Continue;
                        }
                        if name == "pre" {
                            st.pre_depth = st.pre_depth.saturating_sub(1);
                        }
                        let depth = st.depth;
                        if st
                            .quote_stack
                            .last()
                            .is_some_and(|(n, d)| *n == name && *d <= depth)
                        {
                            st.quote_stack.pop();
                            st.ensure_line_break();
                            st.quote_depth = st.quote_depth.saturating_sub(1);
                        }
                        st.depth = st.depth.saturating_sub(1);
                        if matches!(
                            name.as_str(),
                            "p" | "div"
                                | "h1"
                                | "h2"
                                | "h3"
                                | "h4"
                                | "h5"
                                | "h6"
                                | "li"
                                | "tr"
                                | "table"
                                | "ul"
                                | "ol"
                                | "pre"
                                | "blockquote"
                                | "dd"
                        ) {
                            st.ensure_line_break();
                        }
                    }
                }
            }
            CharacterTokens(t) if st.skip_depth == 0 => st.push_text(&t),
            NullCharacterToken => {}
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_cids() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn hostile_html_is_neutralized() {
        let dirty = r#"<p onclick="steal()">Tin <b>mới</b></p>
            <script>alert(1)</script><style>p{}</style>
            <a href="javascript:alert(1)">x</a>
            <a href="https://example.vn/a">y</a>
            <img src="https://tracker.example/p.gif">
            <div style="background:url(javascript:alert(1))">z</div>
            <svg><script>alert(2)</script></svg>
            <iframe src="https://evil.example"></iframe>"#;
        let clean = sanitize(dirty, &no_cids());
        for bad in [
            "onclick",
            "script",
            "alert",
            "javascript",
            "style",
            "tracker",
            "iframe",
            "svg",
        ] {
            assert!(!clean.contains(bad), "{bad} survived: {clean}");
        }
        assert!(clean.contains("<p>Tin <b>mới</b></p>"), "{clean}");
        assert!(clean.contains(r#"href="https://example.vn/a""#), "{clean}");
        assert!(clean.contains("noopener"), "{clean}");
    }

    #[test]
    fn bidi_overrides_are_neutralized() {
        let clean = sanitize(
            "<p dir=\"rtl\">Giá \u{202e}01.000\u{202c} đồng, &#x202E;gnp.exe&#8236; <bdo dir=\"rtl\">abc</bdo> &#x2067;x&#x2069;</p>",
            &no_cids(),
        );
        assert_eq!(clean, "<p>Giá 01.000 đồng, gnp.exe abc x</p>");
        // A joiner in an emoji is writing, not a trick.
        let family = "<p>👨\u{200d}👩\u{200d}👧</p>";
        assert_eq!(sanitize(family, &no_cids()), family);
    }

    #[test]
    fn normalizing_the_output_later_cannot_break_a_tag() {
        // NFC composes ">" + U+0338 into "≯": a sanitized "<p>" followed by
        // the mark, normalized later (the legacy-encoding conversion does),
        // would become "<p≯ onmouseover=…".
        for dirty in [
            "<p>&#x338; onmouseover=alert(1) x</p>",
            "<p><b>&#824;</b> onmouseover=alert(1)</p>",
        ] {
            let clean = sanitize(dirty, &no_cids());
            let normalized = crate::text::nfc(&clean);
            assert!(!normalized.contains('≯'), "{normalized}");
            assert_eq!(sanitize(&normalized, &no_cids()), clean, "{normalized}");
        }
        let html = text_to_html("\u{338} onmouseover=alert(1)");
        assert_eq!(
            crate::text::nfc(&html),
            "<p>&#x338; onmouseover=alert(1)</p>\n"
        );
    }

    #[test]
    fn cid_images_point_at_attachments() {
        let sha = "a".repeat(64);
        let mut map = BTreeMap::new();
        map.insert("logo@x".to_string(), sha.clone());
        let clean = sanitize(
            r#"<img src="cid:logo@x" alt="Logo"><img src="cid:unknown">"#,
            &map,
        );
        assert!(
            clean.contains(&format!("src=\"attachment:{sha}\"")),
            "{clean}"
        );
        assert_eq!(clean.matches("src=").count(), 1, "{clean}");
    }

    #[test]
    fn forged_attachment_urls_are_dropped() {
        let clean = sanitize(
            &format!(r#"<img src="attachment:{}">"#, "b".repeat(64)),
            &no_cids(),
        );
        assert!(!clean.contains("attachment:"), "{clean}");
    }

    #[test]
    fn text_becomes_paragraphs() {
        assert_eq!(
            text_to_html("Dòng 1\r\nDòng <2>\n\n\nĐoạn 2\n"),
            "<p>Dòng 1<br>\nDòng &lt;2&gt;</p>\n<p>Đoạn 2</p>\n"
        );
    }

    /// The deepest nesting of elements in sanitized HTML.
    fn nesting(html: &str) -> usize {
        let (mut depth, mut max) = (0usize, 0usize);
        for part in html.split('<').skip(1) {
            if part.starts_with("br") || part.starts_with("img") || part.starts_with("hr") {
                continue;
            }
            if part.starts_with('/') {
                depth = depth.saturating_sub(1);
            } else {
                depth += 1;
                max = max.max(depth);
            }
        }
        max
    }

    /// The messages of issue 13 that took 15 s, 45 s and 180 s: each comes
    /// out sanitized, its text kept, nested no deeper than the bound.
    #[test]
    fn nesting_bombs_are_flattened() {
        for (levels, closed) in [(60_000, false), (100_000, true), (200_000, true)] {
            let mut html = "<div>".repeat(levels);
            html.push_str("<p>Nội dung <script>alert(1)</script>bài</p>");
            if closed {
                html.push_str(&"</div>".repeat(levels));
            }
            html.push_str("<p>Sau cùng</p>");
            let clean = sanitize(&html, &no_cids());
            assert!(
                nesting(&clean) <= MAX_DEPTH,
                "{levels}: {}",
                nesting(&clean)
            );
            assert!(!clean.contains("script"), "{levels}");
            let text = to_text(&clean);
            assert!(text.contains("Nội dung bài"), "{levels}: {text}");
            assert!(text.ends_with("Sau cùng"), "{levels}: {text}");
        }
    }

    #[test]
    fn ordinary_html_is_sanitized_as_before() {
        // Unclosed paragraphs, list items, cells and formatting, as old
        // mail clients write them: within the bound, untouched by it.
        let html = "<p>Một<p>Hai <b>đậm<p>Ba</b><ul><li>a<li>b</ul>\
                    <table><tr><td>1<td>2<tr><td>3</table><div><i>x</div>y";
        assert_eq!(depth::bound(html), html);
        assert_eq!(
            sanitize(html, &no_cids()),
            "<p>Một</p><p>Hai <b>đậm</b></p><p><b>Ba</b></p><ul><li>a</li><li>b</li></ul>\
             <table><tbody><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></tbody></table>\
             <div><i>x</i></div><i>y</i>"
        );
    }

    #[test]
    fn deep_quotes_are_marked_a_bounded_number_of_times() {
        let html = format!(
            "<p>Trả lời</p>{}trích{}",
            "<blockquote>".repeat(50),
            "</blockquote>".repeat(50)
        );
        assert_eq!(
            to_text(&html),
            format!("Trả lời\n{}trích", "> ".repeat(MAX_QUOTE_MARKS))
        );
    }

    #[test]
    fn html_to_text_keeps_structure_and_marks_quotes() {
        let text = to_text(
            "<html><head><title>T</title><style>x{}</style></head><body>\
             <p>DUYỆT</p><div>Cảm ơn<br>anh</div>\
             <ul><li>một</li><li>hai</li></ul>\
             <div class=\"gmail_quote\">Vào ngày… đã viết:<blockquote>Bài gốc</blockquote></div>\
             </body></html>",
        );
        assert_eq!(
            text,
            "DUYỆT\nCảm ơn\nanh\n- một\n- hai\n> Vào ngày… đã viết:\n> > Bài gốc"
        );
    }
}
