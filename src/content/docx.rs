//! Word attachments (.docx) → article: HTML, plain text, images, fonts, title.
//!
//! A .docx is a zip archive of XML parts, and it arrives from strangers, so
//! `read` treats it as hostile before it treats it as a document. The
//! archive's entry count, every entry name, and the declared sizes and
//! compression ratios of all entries are checked before a single byte is
//! inflated; every part that is read goes through `Read::take`, so a header
//! that lies about its size cannot inflate past the limits either. Only the
//! parts the article needs are ever inflated.
//!
//! The XML is read with quick-xml's streaming reader, which does not expand
//! custom entities or fetch anything, and the document walk keeps no
//! recursion, so deep nesting costs memory proportional to the input only.
//! The HTML is built through a stack of the block tags it has opened, which
//! keeps it well-formed whatever nesting the document claims; the caller
//! still sanitizes it.
//!
//! Text comes through exactly as written: the caller normalizes it to NFC and
//! converts legacy Vietnamese encodings (TCVN3, VNI), which it recognizes by
//! the font names collected here.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{Cursor, Read};

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use zip::ZipArchive;

use crate::content::names::safe_file_name;
use crate::text::escape_html;

/// The scheme of `<img src>` in `DocxArticle::html`; the number after it is
/// the index in `DocxArticle::images`. The caller rewrites these.
pub const IMAGE_SCHEME: &str = "docx-image:";

/// Entries up to this size may have any compression ratio: small XML parts
/// full of repeated markup legitimately compress far better than the limit,
/// and inflating a megabyte is harmless.
const RATIO_GRACE: u64 = 1 << 20;

/// Deepest list nesting kept; Word itself stops at nine levels (0–8).
const MAX_LIST_LEVEL: u8 = 8;

/// How far a `basedOn` chain of styles is followed; real chains are a few
/// links long, and a loop must not hang the reader.
const MAX_STYLE_CHAIN: usize = 16;

/// Deepest nesting of paragraphs (text boxes inside paragraphs) and of
/// tables kept apart; deeper ones merge into the innermost kept one. Each
/// level copies what it contains, so unbounded nesting would cost time
/// quadratic in the size of the document.
const MAX_PARA_NESTING: usize = 16;
const MAX_TABLE_NESTING: usize = 16;

/// Longest field instruction kept; a HYPERLINK instruction is short.
const MAX_FIELD_INSTRUCTION: usize = 2048;

/// Where a package keeps its parts when its relationships do not say.
const DEFAULT_DOCUMENT: &str = "word/document.xml";
const DEFAULT_CORE: &str = "docProps/core.xml";

/// Bounds on what an archive may make us inflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries (files and directories) the archive may list.
    pub max_entries: usize,
    /// Most bytes all entries together may declare, and most bytes read.
    pub max_total_uncompressed: u64,
    /// Most bytes one entry may declare or inflate to.
    pub max_entry_uncompressed: u64,
    /// Most an entry larger than a megabyte may grow when inflated, as a
    /// multiple of its compressed size.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 2000,
            max_total_uncompressed: 200 << 20,
            max_entry_uncompressed: 50 << 20,
            max_ratio: 100,
        }
    }
}

/// An image embedded in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocxImage {
    /// File name of the image inside the package (`image1.png`), made safe.
    pub name: String,
    /// MIME type guessed from the extension.
    pub content_type: String,
    pub data: Vec<u8>,
}

/// What a .docx says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocxArticle {
    /// The article as well-formed HTML: p, h1–h3, b, i, u, br, ul, ol, li,
    /// table, tr, td, a (href only) and img (src `docx-image:N` and alt).
    pub html: String,
    /// Plain text: paragraphs separated by blank lines, list items "- ",
    /// table cells separated by tabs and rows by line breaks.
    pub text: String,
    /// Embedded images in document order, each once.
    pub images: Vec<DocxImage>,
    /// Every font name the document and its styles use or declare.
    pub fonts: BTreeSet<String>,
    /// The first heading or Title paragraph, else the document's title property.
    pub title: Option<String>,
}

/// Why a .docx could not be read. Callers tell the sender what happened;
/// `TooLarge` and `UnsafeName` mark a file that looks built to attack.
#[derive(Debug, thiserror::Error)]
pub enum DocxError {
    #[error(
        "The Word attachment is not a readable .docx (zip) file ({0}); ask the sender to save it again as .docx"
    )]
    NotZip(String),
    #[error(
        "The Word attachment has no {0}; it may be another format renamed to .docx, ask the sender to save it again as .docx"
    )]
    Missing(&'static str),
    #[error(
        "The Word attachment unpacks to more than allowed ({0}); it was rejected as a possible zip bomb"
    )]
    TooLarge(String),
    #[error(
        "The Word attachment contains an unsafe entry name ({0}); it was rejected as a possible attack"
    )]
    UnsafeName(String),
    #[error(
        "The Word attachment has broken XML ({0}); ask the sender to open and save it again in Word"
    )]
    Xml(String),
}

/// Reads a .docx from its bytes. Pure: no I/O, no global state.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<DocxArticle, DocxError> {
    let mut package = Package::open(bytes, *limits)?;

    let package_rels = match package.read_xml("_rels/.rels")? {
        Some(xml) => parse_rels(&xml, "")?,
        None => HashMap::new(),
    };
    let main =
        rel_part(&package_rels, "/officeDocument").unwrap_or_else(|| DEFAULT_DOCUMENT.into());
    let core = rel_part(&package_rels, "/core-properties").unwrap_or_else(|| DEFAULT_CORE.into());

    let document = package
        .read_xml(&main)?
        .ok_or(DocxError::Missing("word/document.xml"))?;
    let base = parent_dir(&main);
    let rels = match package.read_xml(&rels_path(&main))? {
        Some(xml) => parse_rels(&xml, base)?,
        None => HashMap::new(),
    };
    let part_path = |kind: &str, default: &str| {
        rel_part(&rels, kind).unwrap_or_else(|| format!("{base}{default}"))
    };

    let mut fonts = BTreeSet::new();
    let styles = match package.read_xml(&part_path("/styles", "styles.xml"))? {
        Some(xml) => parse_styles(&xml, &mut fonts)?,
        None => Styles::default(),
    };
    let numbering = match package.read_xml(&part_path("/numbering", "numbering.xml"))? {
        Some(xml) => parse_numbering(&xml)?,
        None => Numbering::default(),
    };
    if let Some(xml) = package.read_xml(&part_path("/fontTable", "fontTable.xml"))? {
        parse_font_table(&xml, &mut fonts)?;
    }
    let core_title = match package.read_xml(&core)? {
        Some(xml) => parse_core_title(&xml)?,
        None => None,
    };

    let mut builder = DocBuilder::new(&styles, &numbering, &rels, &package.names, &mut fonts);
    walk(&main, &document, |node, ancestors| {
        builder.visit(node, ancestors)
    })?;
    let built = builder.finish();

    let mut images = Vec::with_capacity(built.images.len());
    for path in &built.images {
        // The builder only refers to entries that exist, so this is never
        // missing; an error is still better than an index that points nowhere.
        let data = package
            .read(path)?
            .ok_or_else(|| DocxError::NotZip(format!("image {path} vanished")))?;
        let file = path.rsplit('/').next().unwrap_or(path);
        let content_type = image_content_type(file);
        images.push(DocxImage {
            name: safe_file_name(Some(file), "image", content_type),
            content_type: content_type.to_string(),
            data,
        });
    }

    Ok(DocxArticle {
        html: built.html,
        text: built.text,
        images,
        fonts,
        title: built.title.or(core_title),
    })
}

/// MIME type of an image from its file name's extension.
fn image_content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" | "jpe" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "emf" => "image/emf",
        "wmf" => "image/wmf",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

// ---------------------------------------------------------------------------
// The archive

/// A zip archive that passed the up-front checks, and what was inflated so far.
struct Package<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    limits: Limits,
    /// Every entry name, to resolve references without touching the data.
    names: HashSet<String>,
    /// Bytes inflated so far, against `max_total_uncompressed`.
    inflated: u64,
}

impl<'a> Package<'a> {
    fn open(bytes: &'a [u8], limits: Limits) -> Result<Self, DocxError> {
        let zip =
            ZipArchive::new(Cursor::new(bytes)).map_err(|e| DocxError::NotZip(e.to_string()))?;
        if zip.len() > limits.max_entries {
            return Err(DocxError::TooLarge(format!(
                "{} entries, at most {} allowed",
                zip.len(),
                limits.max_entries
            )));
        }
        // Names first: a traversal attempt is the clearest sign of an attack
        // and must be reported as such, whatever else is wrong.
        for raw in zip.file_names_raw() {
            check_name(raw)?;
        }
        if zip.has_duplicate_names() {
            // Two entries with one name let different readers see different
            // documents; no office suite writes that.
            return Err(DocxError::UnsafeName(
                "the same entry name is listed twice".into(),
            ));
        }
        let mut names = HashSet::with_capacity(zip.len());
        let mut declared_total: u64 = 0;
        for index in 0..zip.len() {
            let entry = zip
                .by_index_data(index)
                .map_err(|e| DocxError::NotZip(e.to_string()))?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            check_declared(&name, entry.size(), entry.compressed_size(), &limits)?;
            declared_total = declared_total.saturating_add(entry.size());
            names.insert(name);
        }
        if declared_total > limits.max_total_uncompressed {
            return Err(DocxError::TooLarge(format!(
                "entries declare {declared_total} bytes in all, at most {} allowed",
                limits.max_total_uncompressed
            )));
        }
        Ok(Self {
            zip,
            limits,
            names,
            inflated: 0,
        })
    }

    /// Inflates one entry within the limits; `None` when there is no such entry.
    fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, DocxError> {
        let Some(index) = self.zip.index_for_name(name) else {
            return Ok(None);
        };
        let limits = self.limits;
        let remaining = limits.max_total_uncompressed.saturating_sub(self.inflated);
        let mut file = self
            .zip
            .by_index(index)
            .map_err(|e| DocxError::NotZip(format!("{name}: {e}")))?;
        if file.is_dir() {
            return Ok(None);
        }
        let by_ratio = file
            .compressed_size()
            .saturating_mul(limits.max_ratio)
            .max(RATIO_GRACE);
        let cap = limits.max_entry_uncompressed.min(remaining).min(by_ratio);
        // The declared size may lie; the cap bounds the allocation either way.
        let capacity = usize::try_from(file.size().min(cap)).unwrap_or(0);
        let mut data = Vec::with_capacity(capacity);
        Read::by_ref(&mut file)
            .take(cap.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| {
                // The zip crate stops an entry that inflates past its declared
                // size; that is a lying header, the zip-bomb trick, not damage.
                // Matching its message is a best effort: if the wording
                // changes, the file is still rejected, only as NotZip.
                if e.to_string().contains("larger than its declared") {
                    DocxError::TooLarge(format!(
                        "{name} inflates past the size its header declares"
                    ))
                } else {
                    DocxError::NotZip(format!("{name} cannot be unpacked: {e}"))
                }
            })?;
        let got = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if got > cap {
            let why = if cap == limits.max_entry_uncompressed {
                format!("{name} inflates past {cap} bytes, at most that is allowed per entry")
            } else if cap == remaining {
                format!(
                    "the parts read inflate past {} bytes in all",
                    limits.max_total_uncompressed
                )
            } else {
                format!(
                    "{name} inflates more than {} times its compressed size",
                    limits.max_ratio
                )
            };
            return Err(DocxError::TooLarge(why));
        }
        self.inflated = self.inflated.saturating_add(got);
        Ok(Some(data))
    }

    /// Reads an XML part as text.
    fn read_xml(&mut self, name: &str) -> Result<Option<String>, DocxError> {
        self.read(name)?
            .map(|bytes| decode_xml(name, bytes))
            .transpose()
    }
}

/// Rejects entry names that could escape a directory if anyone ever
/// extracted the archive: absolute paths, `..` components, backslashes
/// (Windows separators), colons (drive letters, alternate data streams) and
/// NUL bytes (which truncate names in C code).
fn check_name(raw: &[u8]) -> Result<(), DocxError> {
    let unsafe_name = raw.first() == Some(&b'/')
        || raw.iter().any(|b| matches!(b, b'\\' | b':' | 0))
        || raw.split(|b| *b == b'/').any(|part| part == b"..");
    if unsafe_name {
        let shown: String = String::from_utf8_lossy(raw).chars().take(200).collect();
        return Err(DocxError::UnsafeName(format!("{shown:?}")));
    }
    Ok(())
}

/// Checks what an entry's header claims, before anything is inflated.
fn check_declared(
    name: &str,
    size: u64,
    compressed: u64,
    limits: &Limits,
) -> Result<(), DocxError> {
    if size > limits.max_entry_uncompressed {
        return Err(DocxError::TooLarge(format!(
            "{name} declares {size} bytes, at most {} allowed per entry",
            limits.max_entry_uncompressed
        )));
    }
    if size > RATIO_GRACE && size > compressed.saturating_mul(limits.max_ratio) {
        return Err(DocxError::TooLarge(format!(
            "{name} declares {size} bytes from {compressed} compressed, more than {} times",
            limits.max_ratio
        )));
    }
    Ok(())
}

/// Decodes an XML part: UTF-8 (with or without a byte-order mark), or
/// UTF-16 with its byte-order mark, the only encodings Word writes.
fn decode_xml(part: &str, bytes: Vec<u8>) -> Result<String, DocxError> {
    let utf16 = |rest: &[u8], from: fn([u8; 2]) -> u16| -> Result<String, DocxError> {
        if !rest.len().is_multiple_of(2) {
            return Err(DocxError::Xml(format!(
                "{part} is cut in the middle of a UTF-16 character"
            )));
        }
        let units = rest
            .chunks_exact(2)
            .filter_map(|pair| <[u8; 2]>::try_from(pair).ok())
            .map(from);
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|e| DocxError::Xml(format!("{part} is not valid UTF-16: {e}")))
    };
    match bytes.as_slice() {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest)
            .map(str::to_string)
            .map_err(|e| DocxError::Xml(format!("{part} is not valid UTF-8: {e}"))),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => String::from_utf8(bytes)
            .map_err(|e| DocxError::Xml(format!("{part} is not valid UTF-8: {e}"))),
    }
}

// ---------------------------------------------------------------------------
// Package paths and relationships

/// One relationship of a part.
#[derive(Debug)]
struct Rel {
    kind: String,
    /// The target resolved to an entry name; for external targets, as written.
    target: String,
    external: bool,
}

/// `word/document.xml` → `word/`.
fn parent_dir(part: &str) -> &str {
    part.rfind('/').and_then(|i| part.get(..=i)).unwrap_or("")
}

/// `word/document.xml` → `word/_rels/document.xml.rels`.
fn rels_path(part: &str) -> String {
    let dir = parent_dir(part);
    let file = part.rsplit('/').next().unwrap_or(part);
    format!("{dir}_rels/{file}.rels")
}

/// Resolves a relationship target against the directory of its source
/// part. `None` when it climbs out of the package.
fn resolve_target(base: &str, target: &str) -> Option<String> {
    let joined = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("{base}{target}"),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The internal part a relationship of the given type (suffix) points at.
fn rel_part(rels: &HashMap<String, Rel>, kind_suffix: &str) -> Option<String> {
    let mut found: Vec<&Rel> = rels
        .values()
        .filter(|r| !r.external && r.kind.ends_with(kind_suffix))
        .collect();
    // Several relationships of one type are unusual; take a stable one.
    found.sort_by(|a, b| a.target.cmp(&b.target));
    found.first().map(|r| r.target.clone())
}

fn parse_rels(xml: &str, base: &str) -> Result<HashMap<String, Rel>, DocxError> {
    let mut rels = HashMap::new();
    walk("relationships", xml, |node, _| {
        if let Node::Open(e) = node
            && local(e) == "Relationship"
            && let (Some(id), Some(kind), Some(target)) =
                (attr(e, "Id"), attr(e, "Type"), attr(e, "Target"))
        {
            let external =
                attr(e, "TargetMode").is_some_and(|m| m.eq_ignore_ascii_case("External"));
            let target = if external {
                Some(target)
            } else {
                resolve_target(base, &target)
            };
            if let Some(target) = target {
                rels.insert(
                    id,
                    Rel {
                        kind,
                        target,
                        external,
                    },
                );
            }
        }
    })?;
    Ok(rels)
}

// ---------------------------------------------------------------------------
// Generic XML walking

/// What the walker reports.
enum Node<'a, 'e> {
    Open(&'a BytesStart<'e>),
    Close(&'a str),
    Text(&'a str),
}

/// Streams `xml`, calling `visit` for each element start and end (an empty
/// element gives both) and each piece of character data, with the local
/// names of the enclosing elements. Fails on XML that is not well-formed,
/// including a document that ends with elements still open.
fn walk(
    part: &str,
    xml: &str,
    mut visit: impl FnMut(Node<'_, '_>, &[String]),
) -> Result<(), DocxError> {
    let mut reader = Reader::from_str(xml);
    let mut ancestors: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| {
            DocxError::Xml(format!("{part} at byte {}: {e}", reader.error_position()))
        })?;
        match event {
            Event::Start(e) => {
                visit(Node::Open(&e), &ancestors);
                ancestors.push(local(&e).to_string());
            }
            Event::Empty(e) => {
                visit(Node::Open(&e), &ancestors);
                visit(Node::Close(local(&e)), &ancestors);
            }
            Event::End(_) => {
                if let Some(name) = ancestors.pop() {
                    visit(Node::Close(&name), &ancestors);
                }
            }
            Event::Text(t) => visit(Node::Text(&t.xml10_content()), &ancestors),
            Event::CData(t) => visit(Node::Text(&t.xml10_content()), &ancestors),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    // Custom entities are never expanded: that is how
                    // "billion laughs" documents explode.
                    Ok(None) => resolve_predefined_entity(&r).map(str::to_string),
                    Err(_) => None,
                };
                if let Some(text) = resolved {
                    visit(Node::Text(&text), &ancestors);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = ancestors.last() {
        return Err(DocxError::Xml(format!(
            "{part} ends before element <{open}> is closed"
        )));
    }
    Ok(())
}

/// The local name of an element (`w:p` → `p`).
fn local<'e>(e: &'e BytesStart<'_>) -> &'e str {
    e.name().local_name().into_inner()
}

/// The value of the attribute with this local name, unescaped.
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    let mut attributes = e.attributes();
    attributes.with_checks(false);
    attributes
        .flatten()
        .find(|a| a.key.local_name().into_inner() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

/// An on/off property such as `<w:b/>` or `<w:b w:val="0"/>`.
fn toggle(e: &BytesStart<'_>) -> bool {
    !matches!(
        attr(e, "val")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("0" | "false" | "off" | "none")
    )
}

/// Collects the font names of a `w:rFonts` element.
fn collect_fonts(e: &BytesStart<'_>, fonts: &mut BTreeSet<String>) {
    for key in ["ascii", "hAnsi", "cs", "eastAsia"] {
        if let Some(font) = attr(e, key) {
            let font = font.trim();
            if !font.is_empty() {
                fonts.insert(font.to_string());
            }
        }
    }
}

fn parent(ancestors: &[String]) -> &str {
    ancestors.last().map_or("", String::as_str)
}

fn grandparent(ancestors: &[String]) -> &str {
    ancestors
        .len()
        .checked_sub(2)
        .and_then(|i| ancestors.get(i))
        .map_or("", String::as_str)
}

// ---------------------------------------------------------------------------
// Styles, numbering, fonts, properties

/// A list paragraph's numbering reference.
#[derive(Debug, Clone, Default)]
struct NumRef {
    num_id: Option<String>,
    level: u8,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fmt {
    bold: bool,
    italic: bool,
    underline: bool,
}

impl Fmt {
    fn open_tags(self, out: &mut String) {
        if self.bold {
            out.push_str("<b>");
        }
        if self.italic {
            out.push_str("<i>");
        }
        if self.underline {
            out.push_str("<u>");
        }
    }

    fn close_tags(self, out: &mut String) {
        if self.underline {
            out.push_str("</u>");
        }
        if self.italic {
            out.push_str("</i>");
        }
        if self.bold {
            out.push_str("</b>");
        }
    }
}

#[derive(Debug, Default)]
struct Style {
    name: Option<String>,
    based_on: Option<String>,
    outline: Option<u8>,
    num: Option<NumRef>,
    /// Character formatting, used for character styles (`w:rStyle`).
    fmt: Fmt,
}

#[derive(Debug, Default)]
struct Styles {
    by_id: HashMap<String, Style>,
}

impl Styles {
    /// The heading level (1 for Title) a paragraph style stands for: by its
    /// name, which Word keeps in English ("heading 1") even where the id is
    /// localized, then by its id, its outline level, and the style it is
    /// based on.
    fn heading_level(&self, style_id: &str) -> Option<u8> {
        let mut id = style_id;
        for _ in 0..MAX_STYLE_CHAIN {
            let style = self.by_id.get(id);
            if let Some(level) = style
                .and_then(|s| s.name.as_deref())
                .and_then(heading_label)
            {
                return Some(level);
            }
            if let Some(level) = heading_label(id) {
                return Some(level);
            }
            let style = style?;
            if let Some(outline) = style.outline.filter(|o| *o < 9) {
                return Some(outline.saturating_add(1));
            }
            id = style.based_on.as_deref()?;
        }
        None
    }

    /// Numbering that a paragraph style applies (Word's "List Bullet").
    fn numbering(&self, style_id: &str) -> Option<NumRef> {
        let mut id = style_id;
        for _ in 0..MAX_STYLE_CHAIN {
            let style = self.by_id.get(id)?;
            if let Some(num) = &style.num {
                return Some(num.clone());
            }
            id = style.based_on.as_deref()?;
        }
        None
    }

    fn char_fmt(&self, style_id: &str) -> Fmt {
        self.by_id.get(style_id).map(|s| s.fmt).unwrap_or_default()
    }
}

/// "heading 1", "Heading1", "heading_2" → 1, 2; "Title" → 1.
fn heading_label(label: &str) -> Option<u8> {
    let folded: String = label
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    if folded == "title" {
        return Some(1);
    }
    let level: u8 = folded.strip_prefix("heading")?.parse().ok()?;
    (1..=9).contains(&level).then_some(level)
}

fn parse_small_number(value: Option<String>) -> Option<u8> {
    value?
        .trim()
        .parse::<u32>()
        .ok()
        .map(|n| u8::try_from(n).unwrap_or(u8::MAX))
}

fn parse_styles(xml: &str, fonts: &mut BTreeSet<String>) -> Result<Styles, DocxError> {
    let mut styles = Styles::default();
    let mut current: Option<(String, Style)> = None;
    walk("word/styles.xml", xml, |node, ancestors| match node {
        Node::Open(e) => {
            let name = local(e);
            if name == "rFonts" {
                collect_fonts(e, fonts);
            }
            if name == "style" {
                current = attr(e, "styleId").map(|id| (id, Style::default()));
                return;
            }
            let Some((_, style)) = current.as_mut() else {
                return;
            };
            match (name, parent(ancestors)) {
                ("name", "style") => style.name = attr(e, "val"),
                ("basedOn", "style") => style.based_on = attr(e, "val"),
                ("outlineLvl", "pPr") => style.outline = parse_small_number(attr(e, "val")),
                ("numId", "numPr") => {
                    style.num.get_or_insert_with(NumRef::default).num_id = attr(e, "val");
                }
                ("ilvl", "numPr") => {
                    style.num.get_or_insert_with(NumRef::default).level =
                        parse_small_number(attr(e, "val")).unwrap_or(0);
                }
                ("b", "rPr") if grandparent(ancestors) == "style" => style.fmt.bold = toggle(e),
                ("i", "rPr") if grandparent(ancestors) == "style" => style.fmt.italic = toggle(e),
                ("u", "rPr") if grandparent(ancestors) == "style" => {
                    style.fmt.underline = toggle(e);
                }
                _ => {}
            }
        }
        Node::Close("style") => {
            if let Some((id, style)) = current.take() {
                styles.by_id.insert(id, style);
            }
        }
        Node::Close(_) | Node::Text(_) => {}
    })?;
    Ok(styles)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Unordered,
    Ordered,
}

impl ListKind {
    fn open_tag(self) -> &'static str {
        match self {
            Self::Unordered => "<ul>",
            Self::Ordered => "<ol>",
        }
    }
}

#[derive(Debug, Default)]
struct Num {
    abstract_id: Option<String>,
    overrides: HashMap<u8, String>,
}

#[derive(Debug, Default)]
struct Numbering {
    /// (abstractNumId, level) → numFmt.
    formats: HashMap<(String, u8), String>,
    nums: HashMap<String, Num>,
}

impl Numbering {
    /// What kind of list a numbering reference makes; `None` when it makes
    /// none (numId 0 removes numbering, format "none" shows no label).
    fn kind(&self, num: &NumRef) -> Option<ListKind> {
        let num_id = num.num_id.as_deref()?;
        if num_id.trim() == "0" {
            return None;
        }
        let format = self.nums.get(num_id).and_then(|n| {
            n.overrides.get(&num.level).or_else(|| {
                let abstract_id = n.abstract_id.clone()?;
                self.formats.get(&(abstract_id, num.level))
            })
        });
        match format.map(String::as_str) {
            Some("none") => None,
            Some(f) if is_ordered_format(f) => Some(ListKind::Ordered),
            _ => Some(ListKind::Unordered),
        }
    }
}

/// Number formats whose items read as a sequence (1., a., i., …).
fn is_ordered_format(format: &str) -> bool {
    format.starts_with("decimal")
        || matches!(
            format,
            "upperRoman" | "lowerRoman" | "upperLetter" | "lowerLetter" | "ordinal"
        )
}

fn parse_numbering(xml: &str) -> Result<Numbering, DocxError> {
    let mut numbering = Numbering::default();
    let mut abstract_id: Option<String> = None;
    let mut level: Option<u8> = None;
    let mut num_id: Option<String> = None;
    let mut override_level: Option<u8> = None;
    walk("word/numbering.xml", xml, |node, ancestors| match node {
        Node::Open(e) => match local(e) {
            "abstractNum" => abstract_id = attr(e, "abstractNumId"),
            "num" => num_id = attr(e, "numId"),
            "lvl" => level = parse_small_number(attr(e, "ilvl")),
            "lvlOverride" => override_level = parse_small_number(attr(e, "ilvl")),
            "abstractNumId" if parent(ancestors) == "num" => {
                if let Some(id) = &num_id {
                    numbering.nums.entry(id.clone()).or_default().abstract_id = attr(e, "val");
                }
            }
            "numFmt" => {
                let Some(format) = attr(e, "val") else {
                    return;
                };
                // Word puts a "custom" format in mc:Choice and its plain
                // equivalent in mc:Fallback, which comes later and wins.
                if let (Some(id), Some(lvl)) = (&num_id, override_level) {
                    numbering
                        .nums
                        .entry(id.clone())
                        .or_default()
                        .overrides
                        .insert(lvl, format);
                } else if let (Some(id), Some(lvl)) = (&abstract_id, level) {
                    numbering.formats.insert((id.clone(), lvl), format);
                }
            }
            _ => {}
        },
        Node::Close(name) => match name {
            "abstractNum" => abstract_id = None,
            "num" => num_id = None,
            "lvl" => level = None,
            "lvlOverride" => override_level = None,
            _ => {}
        },
        Node::Text(_) => {}
    })?;
    Ok(numbering)
}

fn parse_font_table(xml: &str, fonts: &mut BTreeSet<String>) -> Result<(), DocxError> {
    walk("word/fontTable.xml", xml, |node, _| {
        if let Node::Open(e) = node
            && local(e) == "font"
            && let Some(name) = attr(e, "name")
        {
            let name = name.trim();
            if !name.is_empty() {
                fonts.insert(name.to_string());
            }
        }
    })
}

/// `dc:title` of docProps/core.xml, when it says something.
fn parse_core_title(xml: &str) -> Result<Option<String>, DocxError> {
    let mut title = String::new();
    walk("docProps/core.xml", xml, |node, ancestors| {
        if let Node::Text(text) = node
            && parent(ancestors) == "title"
        {
            title.push_str(text);
        }
    })?;
    let title = one_line(&title);
    Ok((!title.is_empty()).then_some(title))
}

/// A title on one line: line breaks become spaces, ends trimmed.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r', '\t'], " ")
        .trim_matches(' ')
        .to_string()
}

/// Trims only ASCII white space: legacy-encoded text (TCVN3, VNI) uses
/// characters such as U+00A0 as letters, and those must survive.
fn trim_ascii_space(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
}

/// An address that may become a link: the web and mail only, nothing that
/// runs (javascript:) or points inside the reviewer's machine (file:).
fn safe_href(target: &str) -> Option<String> {
    let target = target.trim();
    let lower = target.to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len());
    (allowed && !target.chars().any(char::is_control)).then(|| target.to_string())
}

/// The address of a `HYPERLINK "…"` field instruction; none for a link to
/// a bookmark (`\l`).
fn field_hyperlink(instruction: &str) -> Option<String> {
    let (head, rest) = instruction.trim_start().split_once(char::is_whitespace)?;
    if !head.eq_ignore_ascii_case("HYPERLINK") {
        return None;
    }
    let rest = rest.trim_start();
    let url = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => rest.split_whitespace().next()?,
    };
    safe_href(url)
}

// ---------------------------------------------------------------------------
// The document

/// A paragraph being read: its inline HTML and text so far.
#[derive(Debug, Default)]
struct Para {
    html: String,
    text: String,
    /// Formatting tags currently open in `html`.
    open: Fmt,
    link_open: bool,
    /// Some text other than white space was added (kept as a flag so that
    /// the check does not rescan long text).
    has_text: bool,
    has_image: bool,
    style: Option<String>,
    outline: Option<u8>,
    num: Option<NumRef>,
}

impl Para {
    fn set_fmt(&mut self, fmt: Fmt) {
        if self.open != fmt {
            self.open.close_tags(&mut self.html);
            fmt.open_tags(&mut self.html);
            self.open = fmt;
        }
    }

    fn push_text(&mut self, text: &str, fmt: Fmt) {
        if text.is_empty() {
            return;
        }
        self.set_fmt(fmt);
        self.html.push_str(&escape_html(text));
        self.text.push_str(text);
        if !self.has_text && !trim_ascii_space(text).is_empty() {
            self.has_text = true;
        }
    }

    fn push_break(&mut self) {
        self.html.push_str("<br>");
        self.text.push('\n');
    }

    fn push_image(&mut self, index: usize, alt: &str) {
        self.html.push_str(&format!(
            "<img src=\"{IMAGE_SCHEME}{index}\" alt=\"{}\">",
            escape_html(alt)
        ));
        self.has_image = true;
    }

    /// Opens a link unless one is open already (HTML links do not nest).
    fn open_link(&mut self, href: &str) -> bool {
        if self.link_open {
            return false;
        }
        self.set_fmt(Fmt::default());
        self.html
            .push_str(&format!("<a href=\"{}\">", escape_html(href)));
        self.link_open = true;
        true
    }

    fn close_link(&mut self) {
        if self.link_open {
            self.set_fmt(Fmt::default());
            self.html.push_str("</a>");
            self.link_open = false;
        }
    }

    /// Closes whatever inline tags are still open.
    fn close_all(&mut self) {
        self.set_fmt(Fmt::default());
        self.close_link();
    }

    fn is_empty(&self) -> bool {
        !self.has_image && !self.has_text
    }

    /// Appends a paragraph nested inside this one (a text box) as a new line.
    fn absorb(&mut self, inner: Para) {
        if inner.is_empty() {
            return;
        }
        self.set_fmt(Fmt::default());
        if !self.is_empty() {
            self.push_break();
        }
        self.html.push_str(&inner.html);
        self.text.push_str(&inner.text);
        self.has_text |= inner.has_text;
        self.has_image |= inner.has_image;
    }
}

/// A block-level HTML tag the builder has opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Table,
    Row,
    Cell,
    List(ListKind),
    Item,
}

impl Block {
    fn close_tag(self) -> &'static str {
        match self {
            Self::Table => "</table>",
            Self::Row => "</tr>",
            Self::Cell => "</td>",
            Self::List(ListKind::Unordered) => "</ul>",
            Self::List(ListKind::Ordered) => "</ol>",
            Self::Item => "</li>",
        }
    }
}

/// The body or a table cell: where paragraphs land.
#[derive(Debug, Default)]
struct Container {
    /// Height of the block stack when the container began; its lists live above.
    base: usize,
    /// Paragraphs being read; more than one when text boxes nest.
    paras: Vec<Para>,
    /// Paragraphs open beyond `MAX_PARA_NESTING`, merged into the innermost.
    paras_beyond: usize,
    /// Plain-text blocks.
    blocks: Vec<String>,
    /// The last block is a list, so the next item continues it.
    in_list: bool,
}

/// A table's plain text as it is read.
#[derive(Debug, Default)]
struct TableText {
    rows: Vec<Vec<String>>,
}

/// The run being read.
#[derive(Debug, Default)]
struct Run {
    fmt: Fmt,
    hidden: bool,
}

#[derive(Debug, Default)]
struct Field {
    instruction: String,
    link: bool,
}

/// Elements whose whole content is skipped: the fallback copy of content
/// that also comes in mc:Choice, deleted and moved-away revisions, the
/// previous formatting kept by tracked changes, and field data.
fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "Fallback"
            | "del"
            | "delText"
            | "delInstrText"
            | "moveFrom"
            | "rPrChange"
            | "pPrChange"
            | "sectPrChange"
            | "tblPrChange"
            | "trPrChange"
            | "tcPrChange"
            | "numberingChange"
            | "fldData"
    )
}

struct Built {
    html: String,
    text: String,
    title: Option<String>,
    /// Entry names of the images, in the order of their indexes.
    images: Vec<String>,
}

/// Turns the events of document.xml into HTML and text.
struct DocBuilder<'a> {
    styles: &'a Styles,
    numbering: &'a Numbering,
    rels: &'a HashMap<String, Rel>,
    entries: &'a HashSet<String>,
    fonts: &'a mut BTreeSet<String>,

    html: String,
    blocks: Vec<Block>,
    body: Container,
    /// Open table cells, innermost last.
    cells: Vec<Container>,
    tables: Vec<TableText>,
    /// Whether each open table row and cell emitted its tag.
    rows_open: Vec<bool>,
    cells_open: Vec<bool>,
    title: Option<String>,
    images: Vec<String>,
    image_index: HashMap<String, usize>,

    skip_depth: usize,
    /// Tables open beyond `MAX_TABLE_NESTING`, whose rows and cells merge
    /// into the innermost kept cell.
    tables_beyond: usize,
    run: Run,
    /// For each open w:hyperlink or w:fldSimple: whether it opened a link.
    links: Vec<bool>,
    fields: Vec<Field>,
    alt: Option<String>,
}

impl<'a> DocBuilder<'a> {
    fn new(
        styles: &'a Styles,
        numbering: &'a Numbering,
        rels: &'a HashMap<String, Rel>,
        entries: &'a HashSet<String>,
        fonts: &'a mut BTreeSet<String>,
    ) -> Self {
        Self {
            styles,
            numbering,
            rels,
            entries,
            fonts,
            html: String::new(),
            blocks: Vec::new(),
            body: Container::default(),
            cells: Vec::new(),
            tables: Vec::new(),
            rows_open: Vec::new(),
            cells_open: Vec::new(),
            title: None,
            images: Vec::new(),
            image_index: HashMap::new(),
            skip_depth: 0,
            tables_beyond: 0,
            run: Run::default(),
            links: Vec::new(),
            fields: Vec::new(),
            alt: None,
        }
    }

    fn visit(&mut self, node: Node<'_, '_>, ancestors: &[String]) {
        match node {
            Node::Open(e) => {
                if self.skip_depth > 0 {
                    self.skip_depth = self.skip_depth.saturating_add(1);
                } else if is_skipped(local(e)) {
                    self.skip_depth = 1;
                } else {
                    self.open(e, ancestors);
                }
            }
            Node::Close(name) => {
                if self.skip_depth > 0 {
                    self.skip_depth -= 1;
                } else {
                    self.close(name);
                }
            }
            Node::Text(text) => {
                if self.skip_depth == 0 {
                    self.text(text, ancestors);
                }
            }
        }
    }

    /// The innermost open cell, else the body.
    fn container(&mut self) -> &mut Container {
        match self.cells.last_mut() {
            Some(cell) => cell,
            None => &mut self.body,
        }
    }

    /// Height of the block stack below the current container's own blocks.
    fn base(&self) -> usize {
        self.cells.last().map_or(0, |c| c.base)
    }

    fn para(&mut self) -> Option<&mut Para> {
        self.container().paras.last_mut()
    }

    fn open(&mut self, e: &BytesStart<'_>, ancestors: &[String]) {
        let name = local(e);
        let in_run = parent(ancestors) == "r";
        let run_property = parent(ancestors) == "rPr" && grandparent(ancestors) == "r";
        match name {
            "rFonts" => collect_fonts(e, self.fonts),
            "p" => {
                let container = self.container();
                if container.paras.len() < MAX_PARA_NESTING {
                    container.paras.push(Para::default());
                } else {
                    container.paras_beyond = container.paras_beyond.saturating_add(1);
                }
            }
            "pStyle" if parent(ancestors) == "pPr" => {
                let style = attr(e, "val");
                if let Some(para) = self.para() {
                    para.style = style;
                }
            }
            "outlineLvl" if parent(ancestors) == "pPr" => {
                let outline = parse_small_number(attr(e, "val"));
                if let Some(para) = self.para() {
                    para.outline = outline;
                }
            }
            "numId" | "ilvl" if parent(ancestors) == "numPr" && grandparent(ancestors) == "pPr" => {
                let value = attr(e, "val");
                if let Some(para) = self.para() {
                    let num = para.num.get_or_insert_with(NumRef::default);
                    if name == "numId" {
                        num.num_id = value;
                    } else {
                        num.level = parse_small_number(value).unwrap_or(0);
                    }
                }
            }
            "r" => self.run = Run::default(),
            "rStyle" if run_property => {
                let fmt = attr(e, "val")
                    .map(|id| self.styles.char_fmt(&id))
                    .unwrap_or_default();
                self.run.fmt = fmt;
            }
            "b" if run_property => self.run.fmt.bold = toggle(e),
            "i" if run_property => self.run.fmt.italic = toggle(e),
            "u" if run_property => self.run.fmt.underline = toggle(e),
            "vanish" if run_property => self.run.hidden = toggle(e),
            "tab" if in_run => self.push_text(" "),
            "noBreakHyphen" if in_run => self.push_text("-"),
            "br" | "cr" if in_run => {
                // Page and column breaks are layout, not a line of the article.
                let layout = matches!(attr(e, "type").as_deref(), Some("page" | "column"));
                if !layout
                    && !self.run.hidden
                    && let Some(para) = self.para()
                {
                    para.push_break();
                }
            }
            "fldChar" => self.field_char(attr(e, "fldCharType").as_deref()),
            "hyperlink" => {
                let href = attr(e, "id")
                    .and_then(|id| self.rels.get(&id))
                    .filter(|rel| rel.external)
                    .and_then(|rel| safe_href(&rel.target));
                self.open_link(href);
            }
            "fldSimple" => {
                let href = attr(e, "instr").and_then(|i| field_hyperlink(&i));
                self.open_link(href);
            }
            "drawing" | "pict" | "object" => self.alt = None,
            "docPr" => {
                self.alt = attr(e, "descr")
                    .filter(|d| !d.trim().is_empty())
                    .or_else(|| attr(e, "title").filter(|t| !t.trim().is_empty()));
            }
            "shape" => {
                if let Some(alt) = attr(e, "alt").filter(|a| !a.trim().is_empty()) {
                    self.alt = Some(alt);
                }
            }
            "blip" => {
                if let Some(id) = attr(e, "embed") {
                    self.image(&id);
                }
            }
            "imagedata" => {
                if self.alt.is_none() {
                    self.alt = attr(e, "title").filter(|t| !t.trim().is_empty());
                }
                if let Some(id) = attr(e, "id") {
                    self.image(&id);
                }
            }
            "tbl" if self.tables_beyond > 0 || self.tables.len() >= MAX_TABLE_NESTING => {
                self.tables_beyond = self.tables_beyond.saturating_add(1);
            }
            "tr" | "tc" if self.tables_beyond > 0 => {}
            "tbl" => {
                self.close_lists();
                self.push_block(Block::Table, "<table>");
                self.tables.push(TableText::default());
            }
            "tr" => {
                self.close_lists();
                let emitted = self.top_block() == Some(Block::Table);
                if emitted {
                    self.push_block(Block::Row, "<tr>");
                }
                self.rows_open.push(emitted);
                if let Some(table) = self.tables.last_mut() {
                    table.rows.push(Vec::new());
                }
            }
            "tc" => {
                self.close_lists();
                let emitted = self.top_block() == Some(Block::Row);
                if emitted {
                    self.push_block(Block::Cell, "<td>");
                }
                self.cells_open.push(emitted);
                let base = self.blocks.len();
                self.cells.push(Container {
                    base,
                    ..Container::default()
                });
            }
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        match name {
            "p" => {
                let container = self.container();
                if container.paras_beyond > 0 {
                    container.paras_beyond -= 1;
                    return;
                }
                let Some(mut para) = container.paras.pop() else {
                    return;
                };
                para.close_all();
                match self.container().paras.last_mut() {
                    Some(outer) => outer.absorb(para),
                    None => self.emit(para),
                }
            }
            "r" => self.run = Run::default(),
            "hyperlink" | "fldSimple" => {
                if self.links.pop() == Some(true)
                    && let Some(para) = self.para()
                {
                    para.close_link();
                }
            }
            "drawing" | "pict" | "object" => self.alt = None,
            "tbl" if self.tables_beyond > 0 => self.tables_beyond -= 1,
            "tr" | "tc" if self.tables_beyond > 0 => {}
            "tc" => {
                self.flush_container();
                self.close_lists();
                if let Some(cell) = self.cells.pop() {
                    let text = cell
                        .blocks
                        .iter()
                        .map(|b| b.replace(['\n', '\t'], " "))
                        .collect::<Vec<_>>()
                        .join(" ");
                    if let Some(row) = self.tables.last_mut().and_then(|t| t.rows.last_mut()) {
                        row.push(text);
                    }
                }
                if self.cells_open.pop() == Some(true) {
                    self.close_through(Block::Cell);
                }
            }
            "tr" => {
                self.close_lists();
                if self.rows_open.pop() == Some(true) {
                    self.close_through(Block::Row);
                }
            }
            "tbl" => {
                self.close_lists();
                self.close_through(Block::Table);
                if let Some(table) = self.tables.pop() {
                    let text = table
                        .rows
                        .iter()
                        .map(|row| row.join("\t"))
                        .collect::<Vec<_>>()
                        .join("\n");
                    self.add_block(text);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str, ancestors: &[String]) {
        match parent(ancestors) {
            "t" if grandparent(ancestors) == "r" => self.push_text(text),
            "instrText" => {
                if let Some(field) = self.fields.last_mut()
                    && field.instruction.len() < MAX_FIELD_INSTRUCTION
                {
                    field.instruction.push_str(text);
                }
            }
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str) {
        if self.run.hidden {
            return;
        }
        let fmt = self.run.fmt;
        if let Some(para) = self.para() {
            para.push_text(text, fmt);
        }
    }

    fn open_link(&mut self, href: Option<String>) {
        let opened = match (href, self.para()) {
            (Some(href), Some(para)) => para.open_link(&href),
            _ => false,
        };
        self.links.push(opened);
    }

    /// Complex fields: `begin`, the instruction, `separate`, the shown
    /// result, `end`. A HYPERLINK field's result becomes a link.
    fn field_char(&mut self, kind: Option<&str>) {
        match kind {
            Some("begin") => self.fields.push(Field::default()),
            Some("separate") => {
                let href = self
                    .fields
                    .last()
                    .and_then(|f| field_hyperlink(&f.instruction));
                let opened = match (href, self.para()) {
                    (Some(href), Some(para)) => para.open_link(&href),
                    _ => false,
                };
                if let Some(field) = self.fields.last_mut() {
                    field.link = opened;
                }
            }
            Some("end") => {
                if self.fields.pop().is_some_and(|f| f.link)
                    && let Some(para) = self.para()
                {
                    para.close_link();
                }
            }
            _ => {}
        }
    }

    /// Places an embedded image, by relationship id, in the paragraph.
    fn image(&mut self, rel_id: &str) {
        let Some(rel) = self.rels.get(rel_id) else {
            return;
        };
        // Linked (external) pictures are never fetched: opening a ticket
        // must not tell anyone that it was read.
        if rel.external || !rel.kind.ends_with("/image") || !self.entries.contains(&rel.target) {
            return;
        }
        if self.para().is_none() {
            return;
        }
        let index = match self.image_index.get(&rel.target) {
            Some(index) => *index,
            None => {
                let index = self.images.len();
                self.images.push(rel.target.clone());
                self.image_index.insert(rel.target.clone(), index);
                index
            }
        };
        let alt = self.alt.clone().unwrap_or_default();
        if let Some(para) = self.para() {
            para.push_image(index, &alt);
        }
    }

    fn top_block(&self) -> Option<Block> {
        let base = self.base();
        if self.blocks.len() > base {
            self.blocks.last().copied()
        } else {
            None
        }
    }

    fn push_block(&mut self, block: Block, open_tag: &str) {
        self.html.push_str(open_tag);
        self.blocks.push(block);
    }

    fn pop_block(&mut self) {
        if let Some(block) = self.blocks.pop() {
            self.html.push_str(block.close_tag());
        }
    }

    /// Closes blocks down to and including the innermost `block` of the
    /// current container, if it has one open.
    fn close_through(&mut self, block: Block) {
        let base = self.base();
        let present = self
            .blocks
            .get(base..)
            .is_some_and(|open| open.contains(&block));
        if !present {
            return;
        }
        while let Some(top) = self.blocks.last().copied() {
            self.pop_block();
            if top == block {
                break;
            }
        }
    }

    /// Closes the current container's open lists.
    fn close_lists(&mut self) {
        while matches!(self.top_block(), Some(Block::List(_) | Block::Item)) {
            self.pop_block();
        }
        self.container().in_list = false;
    }

    fn list_depth(&self) -> usize {
        let base = self.base();
        self.blocks.get(base..).map_or(0, |open| {
            open.iter().filter(|b| matches!(b, Block::List(_))).count()
        })
    }

    /// Opens an `<li>` at `level`, nesting and closing lists as needed; the
    /// item stays open so that a deeper list can nest inside it.
    fn open_item(&mut self, kind: ListKind, level: u8) -> bool {
        let target = usize::from(level.min(MAX_LIST_LEVEL)) + 1;
        while self.list_depth() > target {
            self.close_through_list();
        }
        if self.list_depth() == target {
            let same_kind = self.blocks.iter().rev().find_map(|b| match b {
                Block::List(k) => Some(*k),
                _ => None,
            }) == Some(kind);
            if same_kind {
                if self.top_block() == Some(Block::Item) {
                    self.pop_block();
                }
            } else {
                self.close_through_list();
            }
        }
        let new_top_level = self.list_depth() == 0;
        while self.list_depth() < target {
            if self.list_depth() > 0 && self.top_block() != Some(Block::Item) {
                // A list can only nest inside an item.
                self.push_block(Block::Item, "<li>");
            }
            self.push_block(Block::List(kind), kind.open_tag());
        }
        self.push_block(Block::Item, "<li>");
        new_top_level
    }

    /// Closes the innermost open list of the current container.
    fn close_through_list(&mut self) {
        while let Some(top) = self.top_block() {
            self.pop_block();
            if matches!(top, Block::List(_)) {
                break;
            }
        }
    }

    /// Writes a finished top-level paragraph as a heading, list item or paragraph.
    fn emit(&mut self, para: Para) {
        if para.is_empty() {
            // Empty paragraphs are spacing; they neither show nor end a list.
            return;
        }
        let heading = para
            .style
            .as_deref()
            .and_then(|s| self.styles.heading_level(s))
            .or_else(|| para.outline.filter(|o| *o < 9).map(|o| o.saturating_add(1)));
        if let Some(level) = heading {
            let line = one_line(&para.text);
            if self.title.is_none() && !line.is_empty() {
                self.title = Some(line);
            }
            self.close_lists();
            let tag = match level {
                1 => "h1",
                2 => "h2",
                _ => "h3",
            };
            self.html.push_str(&format!("<{tag}>{}</{tag}>", para.html));
            self.add_block(trim_ascii_space(&para.text).to_string());
            return;
        }
        let num = para
            .num
            .clone()
            .or_else(|| para.style.as_deref().and_then(|s| self.styles.numbering(s)));
        if let Some(num) = num
            && let Some(kind) = self.numbering.kind(&num)
        {
            let new_list = self.open_item(kind, num.level);
            self.html.push_str(&para.html);
            let indent = "  ".repeat(usize::from(num.level.min(MAX_LIST_LEVEL)));
            let line = format!("{indent}- {}", trim_ascii_space(&para.text));
            let container = self.container();
            match container.blocks.last_mut() {
                Some(last) if container.in_list && !new_list => {
                    last.push('\n');
                    last.push_str(&line);
                }
                _ => container.blocks.push(line),
            }
            container.in_list = true;
            return;
        }
        self.close_lists();
        self.html.push_str(&format!("<p>{}</p>", para.html));
        self.add_block(trim_ascii_space(&para.text).to_string());
    }

    fn add_block(&mut self, text: String) {
        let container = self.container();
        container.in_list = false;
        if !trim_ascii_space(&text).is_empty() {
            container.blocks.push(text);
        }
    }

    /// Emits paragraphs a malformed document left open in the current container.
    fn flush_container(&mut self) {
        while let Some(mut para) = self.container().paras.pop() {
            para.close_all();
            self.emit(para);
        }
    }

    fn finish(mut self) -> Built {
        while !self.cells.is_empty() {
            self.close("tc");
        }
        self.flush_container();
        self.close_lists();
        while !self.blocks.is_empty() {
            self.pop_block();
        }
        let text = self.body.blocks.join("\n\n");
        Built {
            html: self.html,
            text,
            title: self.title,
            images: self.images,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice
    )]

    use std::io::Write;

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/docx/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn read_fixture(name: &str) -> DocxArticle {
        read(&fixture(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Builds a zip in memory from (name, bytes) pairs, deflated.
    fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in parts {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    const W: &str = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" \
        xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\" \
        xmlns:wp=\"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing\" \
        xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" \
        xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\"";

    fn document(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document {W}><w:body>{body}</w:body></w:document>"
        )
    }

    fn rels(entries: &[(&str, &str, &str, bool)]) -> String {
        let mut xml = String::from(
            "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
        );
        for (id, kind, target, external) in entries {
            let mode = if *external {
                " TargetMode=\"External\""
            } else {
                ""
            };
            xml.push_str(&format!(
                "<Relationship Id=\"{id}\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}\" Target=\"{target}\"{mode}/>"
            ));
        }
        xml.push_str("</Relationships>");
        xml
    }

    /// A .docx with this body and optional extra parts.
    fn docx(body: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
        let doc = document(body);
        let mut parts: Vec<(&str, &[u8])> = vec![("word/document.xml", doc.as_bytes())];
        parts.extend_from_slice(extra);
        zip_of(&parts)
    }

    fn para(runs: &str) -> String {
        format!("<w:p>{runs}</w:p>")
    }

    fn run(text: &str) -> String {
        format!("<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r>")
    }

    /// Checks that every tag is closed in order, with br and img void.
    fn assert_well_formed(html: &str) {
        let tag = regex::Regex::new(r"<(/?)([a-z0-9]+)[^>]*>").unwrap();
        let mut open: Vec<String> = Vec::new();
        for caps in tag.captures_iter(html) {
            let name = caps[2].to_string();
            if name == "br" || name == "img" {
                continue;
            }
            if &caps[1] == "/" {
                assert_eq!(open.pop().as_deref(), Some(name.as_str()), "in {html}");
            } else {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "unclosed {open:?} in {html}");
        let allowed = [
            "p", "h1", "h2", "h3", "b", "i", "u", "br", "ul", "ol", "li", "table", "tr", "td", "a",
            "img",
        ];
        for caps in tag.captures_iter(html) {
            assert!(allowed.contains(&&caps[2]), "tag {} in {html}", &caps[2]);
        }
    }

    /// The part of `html` between the first `open` and the next `close`.
    fn between<'h>(html: &'h str, open: &str, close: &str) -> &'h str {
        let start = html
            .find(open)
            .unwrap_or_else(|| panic!("no {open} in {html}"))
            + open.len();
        let end = html[start..].find(close).unwrap() + start;
        &html[start..end]
    }

    #[test]
    fn hoi_nghi_becomes_an_article() {
        let article = read_fixture("hoi-nghi.docx");
        let html = &article.html;
        assert_well_formed(html);
        assert_eq!(
            article.title.as_deref(),
            Some("Hội nghị tổng kết công tác năm 2026")
        );
        assert!(
            html.contains("<h1>Hội nghị tổng kết công tác năm 2026</h1>"),
            "{html}"
        );
        assert!(html.contains("<b>UBND xã Ea Sô</b>"), "{html}");
        assert!(html.contains("<i>kinh tế – xã hội</i>"), "{html}");
        assert!(
            html.contains("48 triệu đồng &amp; không còn hộ đói"),
            "{html}"
        );
        assert_eq!(
            between(html, "<ul>", "</ul>").matches("<li>").count(),
            3,
            "{html}"
        );
        assert_eq!(
            between(html, "<ol>", "</ol>").matches("<li>").count(),
            2,
            "{html}"
        );
        assert!(
            html.contains("<li>Hoàn thành 12/12 chỉ tiêu chủ yếu</li>"),
            "{html}"
        );
        assert_eq!(
            between(html, "<table>", "</table>").matches("<tr>").count(),
            2,
            "{html}"
        );
        assert!(html.contains("<td><p>Thực hiện</p></td>"), "{html}");
        assert!(
            // LibreOffice's "Internet Link" character style underlines.
            html.contains("<a href=\"https://example.vn/tin\"><u>Cổng thông tin điện tử</u></a>"),
            "{html}"
        );
        assert!(
            html.contains("<img src=\"docx-image:0\" alt=\"Quang cảnh hội nghị\">"),
            "{html}"
        );

        assert_eq!(article.images.len(), 1);
        let image = &article.images[0];
        assert_eq!(image.content_type, "image/png");
        assert_eq!(image.name, "image1.png");
        assert!(image.data.starts_with(b"\x89PNG\r\n\x1a\n"));

        let text = &article.text;
        assert!(
            text.starts_with("Hội nghị tổng kết công tác năm 2026\n\nSáng 15/12, UBND xã Ea Sô"),
            "{text}"
        );
        assert!(
            text.contains("- Hoàn thành 12/12 chỉ tiêu chủ yếu\n- Xây dựng 3 km"),
            "{text}"
        );
        assert!(
            text.contains(
                "Chỉ tiêu\tKế hoạch\tThực hiện\nThu ngân sách (triệu đồng)\t1.200\t1.350"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("Bài, ảnh: Nguyễn Văn An\n\nNguồn: UBND xã Ea Sô"),
            "{text}"
        );
        assert!(
            article.fonts.contains("Liberation Serif"),
            "{:?}",
            article.fonts
        );
    }

    #[test]
    fn tcvn3_text_comes_through_byte_exact_with_its_font() {
        let article = read_fixture("tcvn3.docx");
        assert!(article.fonts.contains(".VnTime"), "{:?}", article.fonts);
        assert!(
            article.text.contains("Héi nghÞ ®· ®¸nh gi¸ kÕt qu¶"),
            "{}",
            article.text
        );
        assert_eq!(
            article.title.as_deref(),
            Some("Héi nghÞ tæng kÕt c«ng t¸c n¨m 2026")
        );
    }

    #[test]
    fn vni_text_keeps_its_font_and_the_title_property_fills_in() {
        let article = read_fixture("vni.docx");
        assert!(article.fonts.contains("VNI-Times"), "{:?}", article.fonts);
        assert!(
            article
                .text
                .contains("Hoäi nghò toång keát coâng taùc naêm 2026"),
            "{}",
            article.text
        );
        // No heading in the document, so dc:title is the title.
        assert_eq!(article.title.as_deref(), Some("Hội nghị tổng kết (VNI)"));
    }

    #[test]
    fn zip_bomb_is_rejected_without_inflating() {
        let bytes = fixture("zip-bomb.docx");
        assert!(bytes.len() < 2 << 20);
        match read(&bytes, &Limits::default()) {
            Err(DocxError::TooLarge(why)) => assert!(why.contains("word/document.xml"), "{why}"),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn a_header_that_lies_about_its_size_cannot_inflate_past_the_limits() {
        // 8 MiB of spaces compress to a few KiB; the headers then claim 100 bytes.
        let mut payload = b"<w:document><w:body><w:p><w:r><w:t>".to_vec();
        payload.resize(8 << 20, b' ');
        let mut bytes = zip_of(&[("word/document.xml", &payload)]);
        let real = u32::try_from(payload.len()).unwrap().to_le_bytes();
        let mut patched = 0;
        for i in 0..bytes.len().saturating_sub(4) {
            let sig = &bytes[i..i + 4];
            let size_at = if sig == b"PK\x03\x04" {
                i + 22
            } else if sig == b"PK\x01\x02" {
                i + 24
            } else {
                continue;
            };
            if bytes[size_at..size_at + 4] == real {
                bytes[size_at..size_at + 4].copy_from_slice(&100u32.to_le_bytes());
                patched += 1;
            }
        }
        assert_eq!(
            patched, 2,
            "both headers must be patched for the test to mean anything"
        );
        let result = read(&bytes, &Limits::default());
        assert!(matches!(result, Err(DocxError::TooLarge(_))), "{result:?}");

        // Within the ratio but over the per-entry limit.
        let limits = Limits {
            max_entry_uncompressed: 1 << 20,
            max_ratio: u64::MAX,
            ..Limits::default()
        };
        let result = read(&bytes, &limits);
        assert!(matches!(result, Err(DocxError::TooLarge(_))), "{result:?}");
    }

    #[test]
    fn reading_stops_at_the_limits_whatever_the_headers_say() {
        // Headers that pass the up-front checks; the limits then tighten, as
        // if the headers had understated the sizes.
        let big = vec![b' '; 2 << 20];
        let bytes = zip_of(&[("a", &big), ("b", &big)]);
        for (limits, expected) in [
            (
                Limits {
                    max_entry_uncompressed: 1000,
                    max_ratio: 10_000,
                    ..Limits::default()
                },
                "at most that is allowed per entry",
            ),
            (
                Limits {
                    max_total_uncompressed: 3 << 20,
                    max_ratio: 10_000,
                    ..Limits::default()
                },
                "in all",
            ),
            (
                Limits {
                    max_ratio: 2,
                    ..Limits::default()
                },
                "times its compressed size",
            ),
        ] {
            let mut package = Package::open(
                &bytes,
                Limits {
                    max_ratio: 10_000,
                    ..Limits::default()
                },
            )
            .unwrap();
            package.limits = limits;
            let first = package.read("a");
            let result = first.and_then(|_| package.read("b"));
            match result {
                Err(DocxError::TooLarge(why)) => assert!(why.contains(expected), "{why}"),
                other => panic!("expected TooLarge ({expected}), got {other:?}"),
            }
        }
    }

    #[test]
    fn declared_limits_are_enforced() {
        let big = vec![b' '; 3 << 20];
        let bytes = docx(&para(&run("x")), &[("word/media/big.bin", &big)]);
        let tight_entry = Limits {
            max_entry_uncompressed: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(
            read(&bytes, &tight_entry),
            Err(DocxError::TooLarge(_))
        ));
        let tight_total = Limits {
            max_total_uncompressed: 2 << 20,
            ..Limits::default()
        };
        assert!(matches!(
            read(&bytes, &tight_total),
            Err(DocxError::TooLarge(_))
        ));
        // 3 MiB of spaces deflate about a thousandfold.
        assert!(matches!(
            read(&bytes, &Limits::default()),
            Err(DocxError::TooLarge(_))
        ));
        let few = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        assert!(matches!(read(&bytes, &few), Err(DocxError::TooLarge(_))));
        let lenient = Limits {
            max_ratio: 10_000,
            ..Limits::default()
        };
        assert!(read(&bytes, &lenient).is_ok());
    }

    #[test]
    fn traversal_is_rejected() {
        match read(&fixture("traversal.docx"), &Limits::default()) {
            Err(DocxError::UnsafeName(name)) => {
                assert!(name.contains("../../etc/evil.txt"), "{name}")
            }
            other => panic!("expected UnsafeName, got {other:?}"),
        }
    }

    #[test]
    fn unsafe_names_are_recognized() {
        for name in [
            "../evil",
            "word/../../evil",
            "..",
            "/etc/passwd",
            "word\\..\\evil",
            "C:evil",
            "c:/evil",
            "word/doc\0.xml",
        ] {
            assert!(
                matches!(check_name(name.as_bytes()), Err(DocxError::UnsafeName(_))),
                "{name:?}"
            );
        }
        for name in [
            "word/document.xml",
            "word/media/a..b.png",
            "[Content_Types].xml",
            "word/",
        ] {
            assert!(check_name(name.as_bytes()).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn garbage_and_empty_archives_are_errors() {
        let mut seed: u32 = 0x2545_f491;
        let garbage: Vec<u8> = (0..4096)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed.to_le_bytes()[0]
            })
            .collect();
        assert!(matches!(
            read(&garbage, &Limits::default()),
            Err(DocxError::NotZip(_))
        ));
        assert!(matches!(
            read(b"", &Limits::default()),
            Err(DocxError::NotZip(_))
        ));

        let empty = zip::ZipWriter::new(Cursor::new(Vec::new()))
            .finish()
            .unwrap()
            .into_inner();
        assert!(matches!(
            read(&empty, &Limits::default()),
            Err(DocxError::Missing("word/document.xml"))
        ));
        let odt_like = zip_of(&[("content.xml", b"<office:document/>")]);
        assert!(matches!(
            read(&odt_like, &Limits::default()),
            Err(DocxError::Missing(_))
        ));
    }

    #[test]
    fn truncated_and_corrupted_copies_fail_cleanly() {
        let bytes = fixture("hoi-nghi.docx");
        for cut in [
            0,
            1,
            4,
            30,
            100,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 23,
            bytes.len() - 1,
        ] {
            assert!(
                read(&bytes[..cut], &Limits::default()).is_err(),
                "cut at {cut}"
            );
        }
        // Flipped bytes anywhere must give an article or an error, never a panic.
        for at in (0..bytes.len()).step_by(97) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            let _ = read(&damaged, &Limits::default());
        }
    }

    #[test]
    fn broken_xml_is_an_xml_error() {
        let bytes = zip_of(&[("word/document.xml", b"<w:document><w:body><w:p>")]);
        assert!(matches!(
            read(&bytes, &Limits::default()),
            Err(DocxError::Xml(_))
        ));
        let bytes = zip_of(&[("word/document.xml", b"<w:document></w:body>")]);
        assert!(matches!(
            read(&bytes, &Limits::default()),
            Err(DocxError::Xml(_))
        ));
        let bytes = zip_of(&[("word/document.xml", b"<w:t>\xff\xfe\xfd</w:t>")]);
        assert!(matches!(
            read(&bytes, &Limits::default()),
            Err(DocxError::Xml(_))
        ));
    }

    #[test]
    fn formatting_honors_off_values_and_merges_runs() {
        let body = para(&format!(
            "<w:r><w:rPr><w:b/></w:rPr><w:t>Đậm </w:t></w:r>\
             <w:r><w:rPr><w:b w:val=\"true\"/></w:rPr><w:t>tiếp</w:t></w:r>\
             <w:r><w:rPr><w:b w:val=\"0\"/><w:i w:val=\"false\"/><w:u w:val=\"none\"/></w:rPr><w:t> thường</w:t></w:r>\
             <w:r><w:rPr><w:u w:val=\"single\"/></w:rPr><w:t>gạch</w:t><w:tab/><w:t>a</w:t><w:br/><w:t>b</w:t></w:r>\
             <w:r><w:rPr><w:vanish/></w:rPr><w:t>ẩn</w:t></w:r>{}",
            run("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#7843;")
        ));
        let article = read(&docx(&body, &[]), &Limits::default()).unwrap();
        assert_eq!(
            article.html,
            "<p><b>Đậm tiếp</b> thường<u>gạch a<br>b</u>&lt;script&gt;alert(1)&lt;/script&gt; &amp; ả</p>"
        );
        assert_eq!(
            article.text,
            "Đậm tiếp thườnggạch a\nb<script>alert(1)</script> & ả"
        );
        assert_well_formed(&article.html);
    }

    #[test]
    fn headings_resolve_through_style_names_and_outline_levels() {
        let styles = format!(
            "<w:styles {W}>\
             <w:style w:type=\"paragraph\" w:styleId=\"u1\"><w:name w:val=\"heading 1\"/></w:style>\
             <w:style w:type=\"paragraph\" w:styleId=\"TieuDe2\"><w:name w:val=\"Tiêu đề phụ\"/><w:pPr><w:outlineLvl w:val=\"1\"/></w:pPr></w:style>\
             <w:style w:type=\"paragraph\" w:styleId=\"Rieng\"><w:name w:val=\"Riêng\"/><w:basedOn w:val=\"u1\"/></w:style>\
             <w:style w:type=\"paragraph\" w:styleId=\"Loop\"><w:name w:val=\"Loop\"/><w:basedOn w:val=\"Loop\"/></w:style>\
             <w:style w:type=\"paragraph\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/><w:rPr><w:rFonts w:ascii=\"Times New Roman\" w:cs=\"Arial\"/></w:rPr></w:style>\
             </w:styles>"
        );
        let styled = |style: &str, text: &str| {
            format!(
                "<w:p><w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr>{}</w:p>",
                run(text)
            )
        };
        let body = [
            styled("Normal", "Mở đầu"),
            styled("u1", "Một"),
            styled("TieuDe2", "Hai"),
            styled("Heading3", "Ba"),
            styled("heading 4", "Bốn"),
            styled("Title", "Tựa"),
            styled("Rieng", "Riêng"),
            styled("Loop", "Vòng"),
        ]
        .concat();
        let core = "<cp:coreProperties xmlns:cp=\"x\" xmlns:dc=\"y\"><dc:title>Khác</dc:title></cp:coreProperties>";
        let bytes = docx(
            &body,
            &[
                ("word/styles.xml", styles.as_bytes()),
                ("docProps/core.xml", core.as_bytes()),
            ],
        );
        let article = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(
            article.html,
            "<p>Mở đầu</p><h1>Một</h1><h2>Hai</h2><h3>Ba</h3><h3>Bốn</h3><h1>Tựa</h1><h1>Riêng</h1><p>Vòng</p>"
        );
        assert_eq!(article.title.as_deref(), Some("Một"));
        assert!(article.fonts.contains("Times New Roman") && article.fonts.contains("Arial"));
    }

    #[test]
    fn lists_nest_and_follow_the_numbering_format() {
        let numbering = format!(
            "<w:numbering {W}>\
             <w:abstractNum w:abstractNumId=\"0\"><w:lvl w:ilvl=\"0\"><w:numFmt w:val=\"bullet\"/></w:lvl>\
             <w:lvl w:ilvl=\"1\"><w:numFmt w:val=\"lowerLetter\"/></w:lvl></w:abstractNum>\
             <w:abstractNum w:abstractNumId=\"1\"><w:lvl w:ilvl=\"0\">\
             <mc:AlternateContent><mc:Choice Requires=\"w14\"><w:numFmt w:val=\"custom\" w:format=\"001\"/></mc:Choice>\
             <mc:Fallback><w:numFmt w:val=\"decimal\"/></mc:Fallback></mc:AlternateContent></w:lvl></w:abstractNum>\
             <w:num w:numId=\"1\"><w:abstractNumId w:val=\"0\"/></w:num>\
             <w:num w:numId=\"2\"><w:abstractNumId w:val=\"1\"/></w:num>\
             </w:numbering>"
        );
        let item = |num: u8, level: u8, text: &str| {
            format!(
                "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"{level}\"/><w:numId w:val=\"{num}\"/></w:numPr></w:pPr>{}</w:p>",
                run(text)
            )
        };
        let body = [
            item(1, 0, "a"),
            item(1, 1, "a1"),
            item(1, 1, "a2"),
            item(1, 0, "b"),
            para(""),
            item(1, 3, "sâu"),
            item(2, 0, "một"),
            item(0, 0, "không"),
            item(2, 0, "hai"),
        ]
        .concat();
        let bytes = docx(&body, &[("word/numbering.xml", numbering.as_bytes())]);
        let article = read(&bytes, &Limits::default()).unwrap();
        // The "decimal" of mc:Fallback outranks the "custom" format of mc:Choice.
        assert_eq!(
            article.html,
            "<ul><li>a<ol><li>a1</li><li>a2</li></ol></li><li>b\
             <ul><li><ul><li><ul><li>sâu</li></ul></li></ul></li></ul></li></ul>\
             <ol><li>một</li></ol><p>không</p><ol><li>hai</li></ol>"
        );
        assert_well_formed(&article.html);
        assert_eq!(
            article.text,
            "- a\n  - a1\n  - a2\n- b\n      - sâu\n\n- một\n\nkhông\n\n- hai"
        );
    }

    #[test]
    fn tables_nest_and_keep_lists_inside_cells() {
        let cell = |content: &str| format!("<w:tc><w:tcPr/>{content}</w:tc>");
        let inner = format!(
            "<w:tbl><w:tr>{}{}</w:tr></w:tbl>",
            cell(&para(&run("x"))),
            cell(&para(&run("y")))
        );
        let listed = "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"7\"/></w:numPr></w:pPr><w:r><w:t>mục</w:t></w:r></w:p>";
        let body = format!(
            "<w:tbl><w:tr>{}{}</w:tr><w:tr>{}{}</w:tr></w:tbl>{}",
            cell(&para(&run("A"))),
            cell(&format!("{}{}", para(&run("B1")), para(&run("B2")))),
            cell(listed),
            cell(&inner),
            para(&run("sau")),
        );
        let article = read(&docx(&body, &[]), &Limits::default()).unwrap();
        assert_eq!(
            article.html,
            "<table><tr><td><p>A</p></td><td><p>B1</p><p>B2</p></td></tr>\
             <tr><td><ul><li>mục</li></ul></td><td><table><tr><td><p>x</p></td><td><p>y</p></td></tr></table></td></tr></table>\
             <p>sau</p>"
        );
        assert_eq!(article.text, "A\tB1 B2\n- mục\tx y\n\nsau");
    }

    #[test]
    fn links_are_external_web_addresses_only() {
        let document_rels = rels(&[
            (
                "rId1",
                "hyperlink",
                "https://example.vn/a?x=1&amp;y=&quot;2&quot;",
                true,
            ),
            ("rId2", "hyperlink", "javascript:alert(1)", true),
            ("rId3", "hyperlink", "file:///etc/passwd", true),
            ("rId4", "hyperlink", "mailto:toasoan@example.vn", true),
        ]);
        let link = |id: &str, text: &str| {
            format!("<w:hyperlink r:id=\"{id}\">{}</w:hyperlink>", run(text))
        };
        let body = para(&[
            link("rId1", "một"),
            link("rId2", "hai"),
            link("rId3", "ba"),
            link("rId4", "bốn"),
            link("rId9", "năm"),
            "<w:hyperlink w:anchor=\"_Toc1\"><w:r><w:t>sáu</w:t></w:r></w:hyperlink>".into(),
            "<w:fldSimple w:instr=\" HYPERLINK &quot;https://example.vn/b&quot; \">".to_string() + &run("bảy") + "</w:fldSimple>",
            "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\"> HYPERLINK \"https://example.vn/c\" \\o \"tip\" </w:instrText></w:r>\
             <w:r><w:fldChar w:fldCharType=\"separate\"/></w:r>".to_string() + &run("tám") + "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>",
            "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText>HYPERLINK \\l \"muc\"</w:instrText></w:r>\
             <w:r><w:fldChar w:fldCharType=\"separate\"/></w:r>".to_string() + &run("chín") + "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>",
        ]
        .concat());
        let bytes = docx(
            &body,
            &[("word/_rels/document.xml.rels", document_rels.as_bytes())],
        );
        let article = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(
            article.html,
            "<p><a href=\"https://example.vn/a?x=1&amp;y=&quot;2&quot;\">một</a>haiba\
             <a href=\"mailto:toasoan@example.vn\">bốn</a>nămsáu\
             <a href=\"https://example.vn/b\">bảy</a><a href=\"https://example.vn/c\">tám</a>chín</p>"
        );
        assert_eq!(article.text, "mộthaibabốnnămsáubảytámchín");
    }

    #[test]
    fn images_are_deduplicated_and_missing_or_linked_ones_dropped() {
        let document_rels = rels(&[
            ("rId1", "image", "media/image1.jpeg", false),
            ("rId2", "image", "/word/media/image1.jpeg", false),
            ("rId3", "image", "media/missing.png", false),
            ("rId4", "image", "https://tracker.example/p.gif", true),
            ("rId5", "image", "../../../etc/passwd", false),
            ("rId6", "image", "media/chart.svg", false),
        ]);
        let picture = |id: &str, descr: &str| {
            format!(
                "<w:r><w:drawing><wp:inline><wp:docPr id=\"1\" name=\"p\" descr=\"{descr}\"/>\
                 <a:graphic><a:graphicData><a:blip r:embed=\"{id}\"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"
            )
        };
        let body = [
            para(&picture("rId1", "Ảnh &quot;một&quot; &lt;b&gt;")),
            para(&picture("rId2", "")),
            para(&picture("rId3", "x")),
            para(&picture("rId4", "x")),
            para(&picture("rId5", "x")),
            para(&picture("rId6", "biểu đồ")),
            // The same picture once more, as Word's mc:Fallback copy: skipped.
            para(&format!(
                "<mc:AlternateContent><mc:Choice Requires=\"wps\">{}</mc:Choice><mc:Fallback>{}</mc:Fallback></mc:AlternateContent>",
                picture("rId6", "a"),
                picture("rId1", "b")
            )),
        ]
        .concat();
        let bytes = docx(
            &body,
            &[
                ("word/_rels/document.xml.rels", document_rels.as_bytes()),
                ("word/media/image1.jpeg", b"\xff\xd8\xff\xe0jpeg"),
                ("word/media/chart.svg", b"<svg/>"),
            ],
        );
        let article = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(
            article.html,
            "<p><img src=\"docx-image:0\" alt=\"Ảnh &quot;một&quot; &lt;b&gt;\"></p>\
             <p><img src=\"docx-image:0\" alt=\"\"></p>\
             <p><img src=\"docx-image:1\" alt=\"biểu đồ\"></p>\
             <p><img src=\"docx-image:1\" alt=\"a\"></p>"
        );
        assert_eq!(article.images.len(), 2);
        assert_eq!(article.images[0].name, "image1.jpeg");
        assert_eq!(article.images[0].content_type, "image/jpeg");
        assert_eq!(article.images[0].data, b"\xff\xd8\xff\xe0jpeg");
        assert_eq!(article.images[1].content_type, "application/octet-stream");
        assert_eq!(article.text, "");
    }

    #[test]
    fn tracked_deletions_and_old_formatting_are_not_the_article() {
        let body = para(
            "<w:ins><w:r><w:t>mới </w:t></w:r></w:ins>\
             <w:del><w:r><w:delText>cũ </w:delText></w:r></w:del>\
             <w:r><w:rPr><w:rPrChange><w:rPr><w:b/></w:rPr></w:rPrChange></w:rPr><w:t>chữ</w:t></w:r>",
        );
        let article = read(&docx(&body, &[]), &Limits::default()).unwrap();
        assert_eq!(article.html, "<p>mới chữ</p>");
    }

    #[test]
    fn text_boxes_join_their_paragraph() {
        let body = para(&format!(
            "{}<w:r><w:drawing><w:txbxContent>{}{}</w:txbxContent></w:drawing></w:r>",
            run("ngoài"),
            para(&run("hộp 1")),
            para(&run("hộp 2"))
        ));
        let article = read(&docx(&body, &[]), &Limits::default()).unwrap();
        assert_eq!(article.html, "<p>ngoài<br>hộp 1<br>hộp 2</p>");
        assert_well_formed(&article.html);
    }

    #[test]
    fn main_part_and_parts_follow_the_relationships() {
        let package_rels = rels(&[
            ("rId1", "officeDocument", "custom/main.xml", false),
            ("rId2", "metadata/core-properties", "meta/core.xml", false),
        ]);
        let main_rels = rels(&[
            ("rS", "styles", "s.xml", false),
            ("rI", "image", "../pics/a.png", false),
        ]);
        let styles = format!(
            "<w:styles {W}><w:style w:type=\"paragraph\" w:styleId=\"X\"><w:name w:val=\"Title\"/></w:style></w:styles>"
        );
        let main = document(&format!(
            "<w:p><w:pPr><w:pStyle w:val=\"X\"/></w:pPr>{}</w:p>{}",
            run("Tựa"),
            para("<w:r><w:drawing><a:blip r:embed=\"rI\"/></w:drawing></w:r>")
        ));
        let bytes = zip_of(&[
            ("_rels/.rels", package_rels.as_bytes()),
            ("custom/main.xml", main.as_bytes()),
            ("custom/_rels/main.xml.rels", main_rels.as_bytes()),
            ("custom/s.xml", styles.as_bytes()),
            ("pics/a.png", b"\x89PNG\r\n\x1a\n"),
        ]);
        let article = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(
            article.html,
            "<h1>Tựa</h1><p><img src=\"docx-image:0\" alt=\"\"></p>"
        );
        assert_eq!(article.images[0].name, "a.png");
    }

    #[test]
    fn utf16_parts_are_decoded() {
        let xml = document(&para(&run("Xã Ea Sô")));
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in xml.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let bytes = zip_of(&[("word/document.xml", &utf16)]);
        assert_eq!(read(&bytes, &Limits::default()).unwrap().text, "Xã Ea Sô");
    }

    #[test]
    fn deeply_nested_tables_and_text_boxes_stay_cheap() {
        let depth = 20_000;
        let tables = format!(
            "{}{}",
            format!("<w:tbl><w:tr><w:tc>{}", para(&run("t"))).repeat(depth),
            "</w:tc></w:tr></w:tbl>".repeat(depth)
        );
        let boxes = format!(
            "{}{}",
            format!("<w:p>{}<w:r><w:drawing><w:txbxContent>", run("b")).repeat(depth),
            "</w:txbxContent></w:drawing></w:r></w:p>".repeat(depth)
        );
        let bytes = docx(&format!("{tables}{boxes}"), &[]);
        // Repeated markup compresses far beyond the default ratio limit.
        let lenient = Limits {
            max_ratio: 10_000,
            ..Limits::default()
        };
        let article = read(&bytes, &lenient).unwrap();
        assert_well_formed(&article.html);
        assert_eq!(article.html.matches("<table>").count(), MAX_TABLE_NESTING);
        assert_eq!(article.text.matches('t').count(), depth);
        assert_eq!(article.text.matches('b').count(), depth);
    }

    #[test]
    fn duplicate_entry_names_are_rejected() {
        let doc = document(&para(&run("một")));
        let mut bytes = zip_of(&[
            ("word/document.xml", doc.as_bytes()),
            ("word/documenX.xml", doc.as_bytes()),
        ]);
        let (from, to) = (b"word/documenX.xml", b"word/document.xml");
        let mut replaced = 0;
        for i in 0..bytes.len() - from.len() {
            if &bytes[i..i + from.len()] == from {
                bytes[i..i + to.len()].copy_from_slice(to);
                replaced += 1;
            }
        }
        assert_eq!(replaced, 2);
        let result = read(&bytes, &Limits::default());
        assert!(
            matches!(result, Err(DocxError::UnsafeName(_))),
            "{result:?}"
        );
    }

    #[test]
    fn deep_nesting_and_entities_do_not_explode() {
        let deep = format!("{}{}", "<w:sdt>".repeat(50_000), "</w:sdt>".repeat(50_000));
        let laughs =
            "<!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>";
        let xml = format!(
            "{laughs}<w:document {W}><w:body>{deep}{}</w:body></w:document>",
            para(&run("&b;ok"))
        );
        let bytes = zip_of(&[("word/document.xml", xml.as_bytes())]);
        assert_eq!(read(&bytes, &Limits::default()).unwrap().text, "ok");
    }
}
