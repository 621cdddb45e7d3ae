//! Bounding the nesting of untrusted HTML before it is parsed into a tree.
//!
//! The tree builder (html5ever's, inside ammonia) looks through the open
//! elements at nearly every tag, so HTML nested n levels deep costs about n²
//! steps: 200,000 nested `<div>` (2 MB) took minutes. `bound` reads the
//! tokens once and follows the open elements the way the tree builder does —
//! the elements a tag closes implicitly (`<p>`, `<li>`, table cells),
//! scopes, formatting elements closed implicitly and reopened at the next
//! text (`<p><b>x</p>y`) — erring towards more depth where it is not sure.
//!
//! HTML that never goes deeper than `MAX_DEPTH` is returned unchanged, so
//! ordinary mail is sanitized exactly as before. Deeper HTML is written out
//! again: every element closed explicitly, start tags beyond the limit
//! dropped with their end tags (their text stays, in the deepest element
//! kept), at most `MAX_REOPEN` formatting elements reopened at once. The
//! tree builder then never holds more than a few times `MAX_DEPTH` open
//! elements, and its work is linear in the input.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, CharacterTokens, EndTag, StartTag, Tag, TagToken, Token, TokenSink,
    TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// Deepest nesting of elements passed on to the sanitizer. No article is
/// this deep; the HTML of mail clients and Word stays well below 50.
pub const MAX_DEPTH: usize = 100;

/// Most formatting elements reopened at once in rewritten HTML (the tree
/// builder would reopen them all, which a hostile message can make cost
/// `MAX_DEPTH` elements per character).
const MAX_REOPEN: usize = 8;

/// Content arriving where a table allows only its parts is moved before
/// the table ("foster parenting"), which costs the tree builder time
/// proportional to what already precedes the table. Beyond this many such
/// moves the HTML is rewritten, each such content given a cell of its own.
const MAX_FOSTERED: usize = 1000;

/// `html` with its nesting bounded; see the module documentation.
pub fn bound(html: &str) -> Cow<'_, str> {
    if !walk(html, false).deep {
        return Cow::Borrowed(html);
    }
    Cow::Owned(walk(html, true).out.unwrap_or_default())
}

/// Tokenizes `html` once, following its open elements; with `rewrite`,
/// writes it out again bounded.
fn walk(html: &str, rewrite: bool) -> Walk {
    let sink = Sink {
        walk: RefCell::new(Walk {
            out: rewrite.then(|| String::with_capacity(html.len())),
            ..Walk::default()
        }),
    };
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.walk.into_inner()
}

struct Sink {
    walk: RefCell<Walk>,
}

/// The namespace of an element.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Html,
    Svg,
    Math,
}

/// An open element.
struct Open {
    name: String,
    ns: Ns,
    /// An SVG or MathML element inside which tags are HTML again.
    point: bool,
    /// For a formatting element, its entry in the list of active formatting
    /// elements.
    format: Option<Format>,
}

/// An entry of the list of active formatting elements.
#[derive(Clone)]
struct Format {
    /// Its place in the list: entries keep the order they were made in.
    seq: u64,
    /// How many markers (cells, captions, objects, templates) were open
    /// when it was made; the list is cleared down to them when they close.
    level: usize,
    /// Its name and attributes, which make identical entries identical.
    key: String,
    /// Its start tag, to reopen it (only when rewriting).
    tag: String,
}

/// A formatting element closed implicitly that the tree builder would
/// reopen at the next text.
struct Pending {
    name: String,
    format: Format,
}

#[derive(Default)]
struct Walk {
    stack: Vec<Open>,
    pending: Vec<Pending>,
    /// Markers among the open elements.
    markers: usize,
    seq: u64,
    /// The tree builder may hold more than `MAX_DEPTH` elements.
    deep: bool,
    /// The rewritten HTML (when rewriting).
    out: Option<String>,
    /// Start tags dropped beyond `MAX_DEPTH`, by name: their end tags are
    /// dropped too.
    excess: HashMap<String, usize>,
    /// Inside an element whose content is text: how to write it.
    raw: Option<Raw>,
    /// Contents moved out of tables.
    fostered: usize,
}

#[derive(Clone, Copy)]
enum Raw {
    /// Written as it came (style, script, xmp, plaintext…): it holds no end
    /// tag that would end it early.
    Verbatim,
    /// Character references decoded by the tokenizer (title, textarea):
    /// written escaped.
    Escaped,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut walk = self.walk.borrow_mut();
        // Once too deep, a walk that does not rewrite has its answer.
        if walk.deep && walk.out.is_none() {
            return TokenSinkResult::Continue;
        }
        match token {
            TagToken(tag) => match tag.kind {
                StartTag => return walk.start(&tag),
                EndTag => walk.end(&tag),
            },
            CharacterTokens(text) => walk.text(&text),
            // Comments and doctypes are dropped by the sanitizer anyway; a
            // NUL is dropped by the tree builder.
            _ => {}
        }
        TokenSinkResult::Continue
    }

    fn end(&self) {
        let mut walk = self.walk.borrow_mut();
        walk.pop_to(0);
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.walk.borrow().stack.last().is_some_and(|o| o.foreign())
    }
}

/// Elements the tree builder ignores inside a fragment's body.
fn ignored(name: &str) -> bool {
    matches!(name, "html" | "head" | "body" | "frameset" | "frame")
}

/// Start tags that close an open `<p>` first.
fn closes_p(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "center"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "header"
            | "hgroup"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "search"
            | "section"
            | "summary"
            | "ul"
            | "pre"
            | "listing"
            | "form"
    )
}

fn heading(name: &str) -> bool {
    matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

fn formatting(name: &str) -> bool {
    matches!(
        name,
        "a" | "b"
            | "big"
            | "code"
            | "em"
            | "font"
            | "i"
            | "nobr"
            | "s"
            | "small"
            | "strike"
            | "strong"
            | "tt"
            | "u"
    )
}

/// Elements in which only table parts belong.
fn table_context(name: &str) -> bool {
    matches!(name, "table" | "tbody" | "thead" | "tfoot" | "tr")
}

/// Start tags a table takes in as they are (everything else is moved
/// before it).
fn table_part(name: &str) -> bool {
    matches!(
        name,
        "caption"
            | "colgroup"
            | "col"
            | "tbody"
            | "tfoot"
            | "thead"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "style"
            | "script"
            | "template"
            | "form"
            | "input"
    )
}

/// Elements that never have content.
fn void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "image"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// The tree builder's "special" elements, which end the search for the
/// element a generic end tag closes.
fn special(name: &str) -> bool {
    heading(name)
        || void(name)
        || matches!(
            name,
            "address"
                | "applet"
                | "article"
                | "aside"
                | "blockquote"
                | "body"
                | "button"
                | "caption"
                | "center"
                | "colgroup"
                | "dd"
                | "details"
                | "dir"
                | "div"
                | "dl"
                | "dt"
                | "fieldset"
                | "figcaption"
                | "figure"
                | "footer"
                | "form"
                | "frame"
                | "frameset"
                | "head"
                | "header"
                | "hgroup"
                | "html"
                | "iframe"
                | "isindex"
                | "li"
                | "listing"
                | "main"
                | "marquee"
                | "menu"
                | "nav"
                | "noembed"
                | "noframes"
                | "noscript"
                | "object"
                | "ol"
                | "p"
                | "plaintext"
                | "pre"
                | "script"
                | "search"
                | "section"
                | "select"
                | "style"
                | "summary"
                | "table"
                | "tbody"
                | "td"
                | "template"
                | "textarea"
                | "tfoot"
                | "th"
                | "thead"
                | "title"
                | "tr"
                | "ul"
                | "xmp"
        )
}

/// Elements whose closing clears the list of active formatting elements
/// down to them.
fn marker(name: &str) -> bool {
    matches!(
        name,
        "td" | "th" | "caption" | "applet" | "marquee" | "object" | "template"
    )
}

/// MathML elements in which text and most tags are HTML.
fn math_text_point(name: &str) -> bool {
    matches!(name, "mi" | "mo" | "mn" | "ms" | "mtext")
}

/// SVG elements in which tags are HTML.
fn svg_html_point(name: &str) -> bool {
    matches!(name, "foreignobject" | "desc" | "title")
}

/// Whether `tag`, opened in `ns`, is an element inside which tags are HTML
/// again ("integration points"). Where unsure the answer is no: its
/// content is then followed as SVG or MathML, where no tag ends up as text.
fn integration_point(ns: Ns, tag: &Tag) -> bool {
    let name = &*tag.name;
    match ns {
        Ns::Html => false,
        Ns::Svg => svg_html_point(name),
        Ns::Math => {
            math_text_point(name)
                || (name == "annotation-xml"
                    && tag.attrs.iter().any(|a| {
                        &*a.name.local == "encoding"
                            && (a.value.eq_ignore_ascii_case("text/html")
                                || a.value.eq_ignore_ascii_case("application/xhtml+xml"))
                    }))
        }
    }
}

/// Start tags that end SVG or MathML content.
fn breaks_out(tag: &Tag) -> bool {
    match &*tag.name {
        "font" => tag
            .attrs
            .iter()
            .any(|a| matches!(&*a.name.local, "color" | "face" | "size")),
        name => {
            heading(name)
                || matches!(
                    name,
                    "b" | "big"
                        | "blockquote"
                        | "body"
                        | "br"
                        | "center"
                        | "code"
                        | "dd"
                        | "div"
                        | "dl"
                        | "dt"
                        | "em"
                        | "embed"
                        | "head"
                        | "hr"
                        | "i"
                        | "img"
                        | "li"
                        | "listing"
                        | "menu"
                        | "meta"
                        | "nobr"
                        | "ol"
                        | "p"
                        | "pre"
                        | "ruby"
                        | "s"
                        | "small"
                        | "span"
                        | "strong"
                        | "strike"
                        | "sub"
                        | "sup"
                        | "table"
                        | "tt"
                        | "u"
                        | "ul"
                        | "var"
                )
        }
    }
}

/// Which elements end the search for an element "in scope".
#[derive(Clone, Copy)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
}

impl Open {
    fn foreign(&self) -> bool {
        self.ns != Ns::Html
    }

    fn is(&self, name: &str) -> bool {
        !self.foreign() && self.name == name
    }

    fn special(&self) -> bool {
        !self.foreign() && special(&self.name)
    }

    fn bounds(&self, scope: Scope) -> bool {
        if self.foreign() {
            let point = match self.ns {
                Ns::Math => math_text_point(&self.name),
                _ => svg_html_point(&self.name),
            };
            return !matches!(scope, Scope::Table) && point;
        }
        let name = self.name.as_str();
        let default = matches!(
            name,
            "applet"
                | "caption"
                | "html"
                | "table"
                | "td"
                | "th"
                | "marquee"
                | "object"
                | "select"
                | "template"
        );
        match scope {
            Scope::Default => default,
            Scope::ListItem => default || matches!(name, "ol" | "ul"),
            Scope::Button => default || name == "button",
            Scope::Table => matches!(name, "html" | "table" | "template"),
        }
    }
}

/// Where the newest entry for a formatting element is.
enum Entry {
    Open(usize),
    Pending(usize),
}

impl Walk {
    fn emit(&mut self, s: &str) {
        if let Some(out) = &mut self.out {
            out.push_str(s);
        }
    }

    fn rewriting(&self) -> bool {
        self.out.is_some()
    }

    /// Whether the innermost open element is SVG or MathML in which tags
    /// are not HTML.
    fn in_foreign(&self) -> bool {
        self.stack.last().is_some_and(|o| o.foreign() && !o.point)
    }

    /// Whether a start tag is read as SVG or MathML.
    fn foreign_start(&self, tag: &Tag) -> bool {
        let Some(top) = self.stack.last() else {
            return false;
        };
        let name = &*tag.name;
        match top.ns {
            Ns::Html => false,
            Ns::Math if top.point && math_text_point(&top.name) => {
                matches!(name, "mglyph" | "malignmark")
            }
            _ if top.point => false,
            Ns::Math if top.name == "annotation-xml" => name != "svg",
            _ => true,
        }
    }

    fn check_depth(&mut self) {
        if self.stack.len() + self.pending.len() > MAX_DEPTH {
            self.deep = true;
        }
    }

    /// The start tag as it is written out.
    fn tag_text(&self, tag: &Tag, self_closing: bool) -> String {
        if !self.rewriting() {
            return String::new();
        }
        let mut s = String::with_capacity(tag.name.len() + 2);
        s.push('<');
        s.push_str(&tag.name);
        for a in &tag.attrs {
            s.push(' ');
            s.push_str(&a.name.local);
            s.push_str("=\"");
            escape_into(&mut s, &a.value, true);
            s.push('"');
        }
        if self_closing {
            s.push('/');
        }
        s.push('>');
        s
    }

    /// Opens an element; `leaf` for elements whose content is text, which
    /// cannot nest and are kept even beyond the limit so that their text
    /// stays what it is.
    fn open(&mut self, tag: &Tag, ns: Ns, leaf: bool) {
        let foreign = ns != Ns::Html;
        // A table keeps room for a row and a cell (see `foster`).
        let room = if !foreign && table_context(&tag.name) {
            3
        } else {
            1
        };
        if self.stack.len() + room > MAX_DEPTH {
            self.deep = true;
            if self.rewriting() && !leaf {
                *self.excess.entry(tag.name.to_string()).or_default() += 1;
                return;
            }
        }
        let text = self.tag_text(tag, false);
        self.emit(&text);
        let format = (!foreign && formatting(&tag.name)).then(|| self.new_format(tag, text));
        if !foreign && marker(&tag.name) {
            self.markers += 1;
        }
        self.stack.push(Open {
            name: tag.name.to_string(),
            ns,
            point: integration_point(ns, tag),
            format,
        });
        self.check_depth();
    }

    /// Opens an element the tree builder would imply.
    fn open_implied(&mut self, name: &str) {
        let tag = Tag {
            kind: StartTag,
            name: name.into(),
            self_closing: false,
            attrs: Vec::new(),
            had_duplicate_attributes: false,
        };
        self.open(&tag, Ns::Html, false);
    }

    /// Whether the innermost open element is a table, or a part of one
    /// that holds rows or cells only.
    fn in_table_context(&self) -> bool {
        self.stack
            .last()
            .is_some_and(|o| !o.foreign() && table_context(&o.name))
    }

    /// Text or an element arriving directly in a table: the tree builder
    /// moves it before the table. Counted; when rewriting, it gets a cell
    /// of its own instead.
    fn foster(&mut self) {
        if !self.in_table_context() {
            return;
        }
        if !self.rewriting() {
            self.fostered += 1;
            if self.fostered > MAX_FOSTERED {
                self.deep = true;
            }
            return;
        }
        if !self.stack.last().is_some_and(|o| o.is("tr")) {
            self.open_implied("tr");
        }
        self.open_implied("td");
    }

    /// The list entry of a new formatting element. As in the tree builder,
    /// a fourth identical entry after the last marker takes the place of
    /// the oldest ("Noah's Ark").
    fn new_format(&mut self, tag: &Tag, text: String) -> Format {
        let mut attrs: Vec<(&str, &str)> = tag
            .attrs
            .iter()
            .map(|a| (&*a.name.local, &*a.value))
            .collect();
        attrs.sort_unstable();
        let mut key = tag.name.to_string();
        for (name, value) in attrs {
            key.push('\0');
            key.push_str(name);
            key.push('=');
            key.push_str(value);
        }
        let level = self.markers;
        let same = |f: &Format| f.level == level && f.key == key;
        let open = self
            .stack
            .iter()
            .filter_map(|o| o.format.as_ref())
            .filter(|f| same(f));
        let pending = self.pending.iter().map(|p| &p.format).filter(|f| same(f));
        let (count, oldest) = open
            .chain(pending)
            .fold((0, u64::MAX), |(n, oldest), f| (n + 1, oldest.min(f.seq)));
        if count >= 3 {
            self.pending.retain(|p| p.format.seq != oldest);
            for o in &mut self.stack {
                if o.format.as_ref().is_some_and(|f| f.seq == oldest) {
                    o.format = None;
                }
            }
        }
        self.seq += 1;
        Format {
            seq: self.seq,
            level,
            key,
            tag: text,
        }
    }

    /// An element without content (void, or self-closing in SVG).
    fn leaf(&mut self, tag: &Tag, self_closing: bool) {
        let text = self.tag_text(tag, self_closing);
        self.emit(&text);
    }

    /// Closes the open elements above `index` and the one at it. Formatting
    /// elements above it stay in the list of active formatting elements.
    fn pop_to(&mut self, index: usize) {
        while self.stack.len() > index {
            let Some(open) = self.stack.pop() else { break };
            if self.rewriting() {
                let end = format!("</{}>", open.name);
                self.emit(&end);
            }
            if !open.foreign() && marker(&open.name) {
                self.markers = self.markers.saturating_sub(1);
                let markers = self.markers;
                self.pending.retain(|p| p.format.level <= markers);
            } else if let Some(format) = open.format
                && self.stack.len() > index
            {
                self.pending.push(Pending {
                    name: open.name,
                    format,
                });
                if self.rewriting() && self.pending.len() > MAX_DEPTH {
                    self.pending.remove(0);
                }
            }
        }
        self.check_depth();
    }

    fn pop_top(&mut self) {
        if let Some(top) = self.stack.len().checked_sub(1) {
            self.pop_to(top);
        }
    }

    /// The open element `name` in `scope`, if any.
    fn in_scope(&self, name: &str, scope: Scope) -> Option<usize> {
        for (i, open) in self.stack.iter().enumerate().rev() {
            if open.is(name) {
                return Some(i);
            }
            if open.bounds(scope) {
                return None;
            }
        }
        None
    }

    /// The innermost open table (not beyond a template).
    fn table(&self) -> Option<usize> {
        self.in_scope("table", Scope::Table)
    }

    /// Closes what lies above the innermost open table down to the first of
    /// `keep`.
    fn clear_to(&mut self, keep: &[&str]) {
        if self.table().is_none() {
            return;
        }
        let at = self
            .stack
            .iter()
            .rposition(|o| !o.foreign() && keep.contains(&o.name.as_str()));
        if let Some(at) = at {
            self.pop_to(at + 1);
        }
    }

    fn close_p(&mut self) {
        if let Some(i) = self.in_scope("p", Scope::Button) {
            self.pop_to(i);
        }
    }

    /// Reopens the formatting elements closed implicitly, as the tree
    /// builder does before text and inline elements.
    fn reconstruct(&mut self) {
        let markers = self.markers;
        if !self.pending.iter().any(|p| p.format.level == markers) {
            return;
        }
        let (mut now, rest): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.format.level == markers);
        self.pending = rest;
        now.sort_by_key(|p| p.format.seq);
        if now.len() > MAX_REOPEN {
            self.deep = true;
            if self.rewriting() {
                now.drain(..now.len() - MAX_REOPEN);
            }
        }
        for p in now {
            if self.stack.len() >= MAX_DEPTH {
                self.deep = true;
                if self.rewriting() {
                    continue;
                }
            }
            self.emit(&p.format.tag);
            self.stack.push(Open {
                name: p.name,
                ns: Ns::Html,
                point: false,
                format: Some(p.format),
            });
        }
        self.check_depth();
    }

    /// The newest entry for `name` in the list of active formatting
    /// elements after the last marker.
    fn newest(&self, name: &str) -> Option<Entry> {
        let markers = self.markers;
        let open = self
            .stack
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let f = o.format.as_ref()?;
                (o.is(name) && f.level == markers).then_some((f.seq, Entry::Open(i)))
            })
            .max_by_key(|(seq, _)| *seq);
        let pending = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.name == name && p.format.level == markers)
            .map(|(i, p)| (p.format.seq, Entry::Pending(i)))
            .max_by_key(|(seq, _)| *seq);
        match (open, pending) {
            (Some(a), Some(b)) => Some(if a.0 > b.0 { a.1 } else { b.1 }),
            (a, b) => a.or(b).map(|(_, e)| e),
        }
    }

    /// The end tag of a formatting element (the adoption agency). When a
    /// block opened inside the formatting element is still open, the tree
    /// builder moves elements around without changing the depth: here the
    /// formatting element simply stays open.
    fn adopt(&mut self, name: &str) {
        match self.newest(name) {
            None => self.generic_end(name),
            Some(Entry::Pending(j)) => {
                self.pending.remove(j);
            }
            Some(Entry::Open(i)) => {
                let above = self.stack.get(i + 1..).unwrap_or_default();
                if above
                    .iter()
                    .any(|o| o.bounds(Scope::Default) || o.special())
                {
                    return;
                }
                self.pop_to(i);
            }
        }
    }

    /// "Any other end tag": the innermost open element of that name, unless
    /// a special element comes first.
    fn generic_end(&mut self, name: &str) {
        for i in (0..self.stack.len()).rev() {
            let Some(open) = self.stack.get(i) else { break };
            if open.is(name) {
                self.pop_to(i);
                return;
            }
            if open.special() {
                return;
            }
        }
    }

    fn start(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        self.raw = None;
        if self.foreign_start(tag) {
            if !breaks_out(tag) {
                let ns = self.stack.last().map_or(Ns::Html, |o| o.ns);
                if tag.self_closing {
                    self.leaf(tag, true);
                } else {
                    self.open(tag, ns, false);
                }
                return TokenSinkResult::Continue;
            }
            while self.in_foreign() {
                self.pop_top();
            }
        }
        let name = &*tag.name;
        if !ignored(name) && !table_part(name) {
            self.foster();
        }
        match name {
            _ if ignored(name) => {}
            "svg" | "math" => {
                self.reconstruct();
                if tag.self_closing {
                    self.leaf(tag, true);
                } else {
                    let ns = if name == "svg" { Ns::Svg } else { Ns::Math };
                    self.open(tag, ns, false);
                }
            }
            _ if heading(name) => {
                self.close_p();
                if self
                    .stack
                    .last()
                    .is_some_and(|o| !o.foreign() && heading(&o.name))
                {
                    self.pop_top();
                }
                self.open(tag, Ns::Html, false);
            }
            "li" | "dd" | "dt" => {
                let closes = |n: &str| match name {
                    "li" => n == "li",
                    _ => matches!(n, "dd" | "dt"),
                };
                for i in (0..self.stack.len()).rev() {
                    let Some(open) = self.stack.get(i) else { break };
                    if !open.foreign() && closes(&open.name) {
                        self.pop_to(i);
                        break;
                    }
                    if open.special() && !matches!(open.name.as_str(), "address" | "div" | "p") {
                        break;
                    }
                }
                self.close_p();
                self.open(tag, Ns::Html, false);
            }
            "table" => {
                if self.in_table_context()
                    && let Some(i) = self.table()
                {
                    self.pop_to(i);
                }
                self.close_p();
                self.open(tag, Ns::Html, false);
            }
            "plaintext" => {
                self.close_p();
                self.open(tag, Ns::Html, true);
                self.raw = Some(Raw::Verbatim);
                return TokenSinkResult::Plaintext;
            }
            "xmp" => {
                self.close_p();
                self.reconstruct();
                self.open(tag, Ns::Html, true);
                self.raw = Some(Raw::Verbatim);
                return TokenSinkResult::RawData(RawKind::Rawtext);
            }
            _ if closes_p(name) => {
                self.close_p();
                self.open(tag, Ns::Html, false);
            }
            "hr" => {
                self.close_p();
                self.leaf(tag, false);
            }
            "button" => {
                if let Some(i) = self.in_scope("button", Scope::Default) {
                    self.pop_to(i);
                }
                self.reconstruct();
                self.open(tag, Ns::Html, false);
            }
            "a" => {
                // A link inside a link closes the outer one.
                match self.newest("a") {
                    Some(Entry::Pending(j)) => {
                        self.pending.remove(j);
                    }
                    Some(Entry::Open(_)) => self.adopt("a"),
                    None => {}
                }
                self.reconstruct();
                self.open(tag, Ns::Html, false);
            }
            "nobr" => {
                self.reconstruct();
                if self.in_scope("nobr", Scope::Default).is_some() {
                    self.adopt("nobr");
                    self.reconstruct();
                }
                self.open(tag, Ns::Html, false);
            }
            "input" => {
                if let Some(i) = self.in_scope("select", Scope::Default) {
                    self.pop_to(i);
                }
                self.reconstruct();
                self.leaf(tag, false);
            }
            "area" | "br" | "embed" | "img" | "image" | "keygen" | "wbr" => {
                self.reconstruct();
                self.leaf(tag, false);
            }
            "col" => {
                // A column closes the cell or row it comes in.
                self.clear_to(&["table"]);
                self.leaf(tag, false);
            }
            _ if void(name) => self.leaf(tag, false),
            "select" => match self.in_scope("select", Scope::Default) {
                Some(i) => self.pop_to(i),
                None => {
                    self.reconstruct();
                    self.open(tag, Ns::Html, false);
                }
            },
            "option" | "optgroup" => {
                if self.in_scope("select", Scope::Default).is_some() {
                    // Implied end tags (an option group ends only at another).
                    let implied = |o: &Open| {
                        !o.foreign()
                            && (matches!(
                                o.name.as_str(),
                                "dd" | "dt" | "li" | "option" | "p" | "rb" | "rp" | "rt" | "rtc"
                            ) || (name == "optgroup" && o.name == "optgroup"))
                    };
                    while self.stack.last().is_some_and(implied) {
                        self.pop_top();
                    }
                } else if self.stack.last().is_some_and(|o| o.is("option")) {
                    self.pop_top();
                }
                self.reconstruct();
                self.open(tag, Ns::Html, false);
            }
            "title" | "textarea" => {
                self.open(tag, Ns::Html, true);
                self.raw = Some(Raw::Escaped);
                return TokenSinkResult::RawData(RawKind::Rcdata);
            }
            "style" | "noembed" | "noframes" | "iframe" | "noscript" => {
                self.open(tag, Ns::Html, true);
                self.raw = Some(Raw::Verbatim);
                return TokenSinkResult::RawData(RawKind::Rawtext);
            }
            "script" => {
                self.open(tag, Ns::Html, true);
                self.raw = Some(Raw::Verbatim);
                return TokenSinkResult::RawData(RawKind::ScriptData);
            }
            // Outside a table the tree builder ignores the parts of one.
            "caption" | "colgroup" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th"
                if self.table().is_none() => {}
            "caption" | "colgroup" | "tbody" | "thead" | "tfoot" => {
                self.clear_to(&["table"]);
                self.open(tag, Ns::Html, false);
            }
            "tr" => {
                self.clear_to(&["tbody", "thead", "tfoot", "table"]);
                self.open(tag, Ns::Html, false);
            }
            "td" | "th" => {
                self.clear_to(&["tr", "tbody", "thead", "tfoot", "table"]);
                self.open(tag, Ns::Html, false);
            }
            "template" | "rb" | "rtc" | "rp" | "rt" | "isindex" => self.open(tag, Ns::Html, false),
            // Formatting, inline and unknown elements, applet, marquee,
            // object.
            _ => {
                self.reconstruct();
                self.open(tag, Ns::Html, false);
            }
        }
        TokenSinkResult::Continue
    }

    fn end(&mut self, tag: &Tag) {
        self.raw = None;
        let name = &*tag.name;
        if self.rewriting()
            && let Some(n) = self.excess.get_mut(name)
            && *n > 0
        {
            *n -= 1;
            return;
        }
        let top_foreign = self.stack.last().is_some_and(|o| o.foreign());
        if top_foreign && !matches!(name, "br" | "p") {
            // The innermost SVG or MathML element of that name, unless an
            // HTML element comes first.
            for i in (0..self.stack.len()).rev() {
                let Some(open) = self.stack.get(i) else {
                    return;
                };
                if !open.foreign() {
                    break;
                }
                if open.name.eq_ignore_ascii_case(name) {
                    self.pop_to(i);
                    return;
                }
                if i == 0 {
                    return;
                }
            }
        } else {
            while self.in_foreign() {
                self.pop_top();
            }
        }
        match name {
            "html" | "body" => {}
            "br" => {
                self.foster();
                self.reconstruct();
                self.emit("<br>");
            }
            "p" => match self.in_scope("p", Scope::Button) {
                Some(i) => self.pop_to(i),
                None => {
                    self.foster();
                    if self.stack.len() < MAX_DEPTH {
                        self.emit("<p></p>");
                    }
                }
            },
            "li" => {
                if let Some(i) = self.in_scope("li", Scope::ListItem) {
                    self.pop_to(i);
                }
            }
            _ if heading(name) => {
                for i in (0..self.stack.len()).rev() {
                    let Some(open) = self.stack.get(i) else { break };
                    if !open.foreign() && heading(&open.name) {
                        self.pop_to(i);
                        break;
                    }
                    if open.bounds(Scope::Default) {
                        break;
                    }
                }
            }
            // The tree builder takes a form out of the middle of the open
            // elements; here it closes only when it is the innermost.
            "form" => {
                if self.stack.last().is_some_and(|o| o.is("form")) {
                    self.pop_top();
                }
            }
            "table" | "tbody" | "tfoot" | "thead" | "tr" | "td" | "th" | "caption" | "colgroup" => {
                if let Some(i) = self.in_scope(name, Scope::Table) {
                    self.pop_to(i);
                }
            }
            "template" => {
                if let Some(i) = self.stack.iter().rposition(|o| o.is("template")) {
                    self.pop_to(i);
                }
            }
            _ if formatting(name) => self.adopt(name),
            "address" | "applet" | "article" | "aside" | "blockquote" | "button" | "center"
            | "details" | "dialog" | "dir" | "div" | "dl" | "fieldset" | "figcaption"
            | "figure" | "footer" | "header" | "hgroup" | "listing" | "main" | "marquee"
            | "menu" | "nav" | "object" | "ol" | "pre" | "search" | "section" | "select"
            | "summary" | "ul" => {
                if let Some(i) = self.in_scope(name, Scope::Default) {
                    self.pop_to(i);
                }
            }
            _ => self.generic_end(name),
        }
    }

    fn text(&mut self, text: &str) {
        match self.raw {
            Some(Raw::Verbatim) => return self.emit(text),
            Some(Raw::Escaped) => return self.emit_escaped(text),
            None => {}
        }
        let blank = text
            .chars()
            .all(|c| matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r'));
        if !blank {
            self.foster();
        }
        if !(self.in_foreign() || (self.in_table_context() && blank)) {
            self.reconstruct();
        }
        self.emit_escaped(text);
    }

    fn emit_escaped(&mut self, text: &str) {
        if let Some(out) = &mut self.out {
            escape_into(out, text, false);
        }
    }
}

fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nesting of well-formed HTML as written (void elements aside).
    fn depth_of(html: &str) -> usize {
        let (mut depth, mut max) = (0usize, 0usize);
        for part in html.split('<').skip(1) {
            let name: String = part
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if void(&name) {
                continue;
            }
            if part.starts_with('/') {
                depth = depth.saturating_sub(1);
            } else if !part.starts_with('!') {
                depth += 1;
                max = max.max(depth);
            }
        }
        max
    }

    #[test]
    fn shallow_html_is_left_alone() {
        for html in [
            "<p>Tin <b>mới</b></p>",
            "<p><b>x</p><p>y</b></p>",
            "<ul><li>a<li>b<li>c</ul>",
            &"<p>đoạn".repeat(5000),
            &"<li>mục".repeat(5000),
            &"<table><tr><td>ô<td>ô</table>".repeat(2000),
            &"<div><b>x</div>".repeat(50),
        ] {
            assert!(matches!(bound(html), Cow::Borrowed(_)), "{html:.80}");
        }
    }

    #[test]
    fn deep_html_is_flattened() {
        for html in [
            format!("{}x", "<div>".repeat(10_000)),
            format!("{}x{}", "<div>".repeat(10_000), "</div>".repeat(10_000)),
            format!("{}x", "<b>".repeat(10_000)),
            "<div><b x=1></div>x".repeat(1000),
            "<p><b x=1></p>x".repeat(1000),
            format!("{}x", "<svg><g>".repeat(5000)),
            format!("{}x", "<table><tr><td>".repeat(5000)),
            "<table>x".repeat(5000),
            "<table><b>x</b></table>".repeat(5000),
        ] {
            let out = bound(&html);
            assert!(matches!(out, Cow::Owned(_)), "{html:.80}");
            assert!(depth_of(&out) <= MAX_DEPTH, "{:.200}", &*out);
            assert!(out.contains('x'), "{:.200}", &*out);
            // What comes out is within the bound itself.
            assert!(matches!(bound(&out), Cow::Borrowed(_)), "{:.200}", &*out);
        }
    }

    /// Every HTML body among the fixtures (mail clients, Word files, the
    /// MIME corpus) stays within the bound, and written out again it would
    /// still sanitize to the same HTML: the walk follows the tree builder.
    #[test]
    fn fixtures_stay_within_the_bound_and_rewrite_faithfully() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut bodies = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let raw = || std::fs::read(&path).unwrap();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "docx") {
                    if let Ok(doc) = crate::content::docx::read(&raw(), &Default::default()) {
                        bodies.push((path, doc.html));
                    }
                } else if let Some(msg) = crate::content::parse(&raw()) {
                    for part in msg.html_bodies() {
                        if let mail_parser::PartType::Html(html) = &part.body {
                            bodies.push((path.clone(), html.to_string()));
                        }
                    }
                }
            }
        }
        assert!(bodies.len() > 40, "{} HTML bodies", bodies.len());
        let sanitize = |html: &str| ammonia::Builder::default().clean(html).to_string();
        for (path, html) in bodies {
            let html = crate::text::clean_text(&html);
            assert!(!walk(&html, false).deep, "{}", path.display());
            let rewritten = walk(&html, true).out.unwrap_or_default();
            assert_eq!(sanitize(&html), sanitize(&rewritten), "{}", path.display());
        }
    }

    #[test]
    fn text_beyond_the_limit_stays_in_the_deepest_element_kept() {
        let html = format!(
            "{}a{}b{}c",
            "<div>".repeat(150),
            "</div>".repeat(50),
            "</div>".repeat(100)
        );
        let out = bound(&html);
        let expected = format!(
            "{}ab{}c",
            "<div>".repeat(MAX_DEPTH),
            "</div>".repeat(MAX_DEPTH)
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn rewriting_keeps_text_attributes_and_raw_text() {
        let html = format!(
            "{}{}<p title=\"a&quot;b\">1 &lt; 2 &amp; 3</p><style>p > b {{}}</style><textarea>&lt;x&gt;</textarea>",
            "<span>".repeat(MAX_DEPTH + 1),
            "</span>".repeat(MAX_DEPTH + 1),
        );
        let out = bound(&html);
        assert!(
            out.contains("<p title=\"a&quot;b\">1 &lt; 2 &amp; 3</p>"),
            "{out}"
        );
        assert!(out.contains("<style>p > b {}</style>"), "{out}");
        assert!(out.contains("<textarea>&lt;x&gt;</textarea>"), "{out}");
    }
}
