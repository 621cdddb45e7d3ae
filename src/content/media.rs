//! What may be published on the portal, judged by the bytes.
//!
//! The portal's media directory is served by a web server, and a web server
//! decides what a file is by its name: a sender's `shell.php`, `page.html`
//! or `image.svg` copied there would be a program or a page of the portal.
//! So only an allow-list is published, each recognised from its content
//! (magic numbers and container structure, never the name or the claimed
//! MIME type), and the published copy takes its extension and content type
//! from what the bytes are:
//!
//! - photos: JPEG, PNG, WebP, GIF (what every browser shows);
//! - PDF;
//! - office documents: Office Open XML (docx, xlsx, pptx) by the main part
//!   its `[Content_Types].xml` declares, OpenDocument (odt, ods, odp) by its
//!   `mimetype` entry, legacy Office (doc, xls, ppt) by the streams of the
//!   compound file; never one with macros (a macro-enabled type, a VBA
//!   project, ActiveX controls, OpenDocument Basic or script modules);
//! - audio and video: MP3, AAC (ADTS), M4A, MP4, MOV, 3GP, Ogg (Vorbis,
//!   Opus, FLAC, Speex, Theora), FLAC, WAV, WebM, Matroska.
//!
//! Everything else is refused with a reason for the ticket's history: web
//! pages and scripts (HTML, XHTML, SHTML, PHP, XML), SVG drawings (they can
//! carry scripts; not rasterised here), photo formats browsers do not show
//! (HEIC, TIFF, BMP), anything `screen` finds dangerous (programs, macros,
//! archives holding programs), and whatever is not recognised. A file is
//! never refused for its name alone unless the name says program or macro
//! (`screen::danger`); a name never makes a file publishable.
//!
//! Pure and total: no I/O, no panic; zip entries are read by name, and only
//! the two small entries that say what a package is are inflated, with a
//! cap.

use std::fmt;
use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::content::image::{self, ImageType};
use crate::content::screen;

/// What kind of media a publishable file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Photo(ImageType),
    Document,
    Audio,
    Video,
}

/// A file the portal may publish, as its bytes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publishable {
    pub class: Class,
    /// The content type of the published copy.
    pub mime: &'static str,
    /// The extension of the published copy, without the dot.
    pub extension: &'static str,
}

impl Publishable {
    fn new(class: Class, mime: &'static str, extension: &'static str) -> Publishable {
        Publishable {
            class,
            mime,
            extension,
        }
    }

    fn photo(t: ImageType) -> Publishable {
        Publishable::new(Class::Photo(t), t.mime(), t.extension())
    }

    /// The photo type, for photos.
    pub fn photo_type(&self) -> Option<ImageType> {
        match self.class {
            Class::Photo(t) => Some(t),
            _ => None,
        }
    }
}

/// Why a file is not published; `Display` gives the reason the ticket's
/// history records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withheld {
    /// A photo whose location data cannot be removed (decided by the
    /// publisher after `image::strip_gps`).
    Location,
    /// An SVG drawing.
    Svg,
    /// HTML, XHTML, SHTML, PHP, XML: text that starts with markup.
    Markup,
    /// A photo format browsers do not show.
    PhotoFormat(ImageType),
    /// An office document with macros or active content; what was found.
    Macros(String),
    /// A program, script or archive holding one (`screen::danger`).
    Dangerous(String),
    /// None of the kinds the portal publishes.
    Unknown,
}

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Withheld::Location => f.write_str("location data could not be removed"),
            Withheld::Svg => f.write_str("an SVG drawing, which can carry scripts"),
            Withheld::Markup => {
                f.write_str("a web page, script or markup such as HTML, PHP or XML")
            }
            Withheld::PhotoFormat(t) => {
                let name = match t {
                    ImageType::Heic => "HEIC/AVIF",
                    ImageType::Tiff => "TIFF",
                    ImageType::Bmp => "BMP",
                    ImageType::Jpeg => "JPEG",
                    ImageType::Png => "PNG",
                    ImageType::Gif => "GIF",
                    ImageType::Webp => "WebP",
                };
                write!(f, "a {name} image, which browsers do not show")
            }
            Withheld::Macros(what) | Withheld::Dangerous(what) => f.write_str(what),
            Withheld::Unknown => f.write_str(
                "not a photo, PDF, office document, recording or video of a kind the portal publishes",
            ),
        }
    }
}

/// The largest `[Content_Types].xml` or `mimetype` entry read; real ones
/// are a few kilobytes.
const MAX_DESCRIPTOR: u64 = 256 * 1024;

/// How far into a text file SVG is looked for.
const SVG_WINDOW: usize = 4096;

/// Whether the portal may publish `data`, sent as `name`, and as what.
pub fn classify(name: &str, data: &[u8]) -> Result<Publishable, Withheld> {
    if let Some(what) = screen::danger(name, data) {
        return Err(if what.contains("macro") {
            Withheld::Macros(what)
        } else {
            Withheld::Dangerous(what)
        });
    }
    if let Some(t) = image::sniff(data) {
        return match t {
            ImageType::Jpeg | ImageType::Png | ImageType::Gif | ImageType::Webp => {
                Ok(Publishable::photo(t))
            }
            ImageType::Heic | ImageType::Tiff | ImageType::Bmp => Err(Withheld::PhotoFormat(t)),
        };
    }
    if data.starts_with(b"%PDF-") {
        return Ok(Publishable::new(Class::Document, "application/pdf", "pdf"));
    }
    if data.starts_with(b"PK\x03\x04") {
        return office_package(data);
    }
    if data.starts_with(&screen::OLE_MAGIC) {
        return legacy_office(data);
    }
    if let Some(p) = audio_video(data) {
        return Ok(p);
    }
    match markup(data) {
        Some(Markup::Svg) => Err(Withheld::Svg),
        Some(Markup::Other) => Err(Withheld::Markup),
        None => Err(Withheld::Unknown),
    }
}

// --- Office documents -------------------------------------------------------

const OOXML_MAIN: [(&str, &str, &str); 3] = [
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
];

const ODF: [(&str, &str); 3] = [
    ("application/vnd.oasis.opendocument.text", "odt"),
    ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
    ("application/vnd.oasis.opendocument.presentation", "odp"),
];

/// An Office Open XML or OpenDocument package, or nothing we publish.
fn office_package(data: &[u8]) -> Result<Publishable, Withheld> {
    let Ok(mut archive) = ZipArchive::new(Cursor::new(data)) else {
        return Err(Withheld::Unknown);
    };
    let names: Vec<String> = archive
        .file_names_raw()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    if let Some(x) = names
        .iter()
        .find(|n| n.to_ascii_lowercase().contains("activex/"))
    {
        return Err(Withheld::Macros(format!("contains ActiveX controls ({x})")));
    }
    if let Some(types) = small_entry(&mut archive, "[Content_Types].xml") {
        let lower = types.to_ascii_lowercase();
        for active in [
            "macroenabled",
            "vnd.ms-office.vbaproject",
            "vnd.ms-office.activex",
        ] {
            if lower.contains(active) {
                return Err(Withheld::Macros(format!(
                    "is an office document with macros or ActiveX controls ({active} in [Content_Types].xml)"
                )));
            }
        }
        let mut mains = OOXML_MAIN
            .iter()
            .filter(|(main, _, _)| lower.contains(main));
        return match (mains.next(), mains.next()) {
            (Some((_, mime, ext)), None) => Ok(Publishable::new(Class::Document, mime, ext)),
            _ => Err(Withheld::Unknown),
        };
    }
    let Some(mimetype) = small_entry(&mut archive, "mimetype") else {
        return Err(Withheld::Unknown);
    };
    let Some((mime, ext)) = ODF.iter().find(|(m, _)| mimetype.trim() == *m) else {
        return Err(Withheld::Unknown);
    };
    // Basic/<library>/<module>.xml holds a macro module; the library
    // indexes (script-lc.xml, script-lb.xml, dialog-…) may exist without
    // any. Scripts/ holds Python, JavaScript or BeanShell macros.
    let module = names.iter().find(|n| {
        let parts: Vec<&str> = n.split('/').collect();
        let basic_module = matches!(parts.as_slice(), ["Basic", _, file]
            if file.ends_with(".xml") && !file.starts_with("script-") && !file.starts_with("dialog-"));
        let script = n.starts_with("Scripts/") && !n.ends_with('/');
        basic_module || script
    });
    if let Some(m) = module {
        return Err(Withheld::Macros(format!("contains a macro module ({m})")));
    }
    Ok(Publishable::new(Class::Document, mime, ext))
}

/// A small entry of a zip as text; None when missing, unreadable, too
/// large or not UTF-8.
fn small_entry(archive: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<String> {
    let entry = archive.by_name(name).ok()?;
    if entry.size() > MAX_DESCRIPTOR {
        return None;
    }
    let mut text = String::new();
    entry.take(MAX_DESCRIPTOR).read_to_string(&mut text).ok()?;
    Some(text)
}

/// A Word, Excel or PowerPoint 97–2003 compound file (macros and
/// installers were refused by `screen::danger` already).
fn legacy_office(data: &[u8]) -> Result<Publishable, Withheld> {
    let has = |entry: &str| screen::compound_has_entry(data, entry);
    if has("WordDocument") {
        Ok(Publishable::new(
            Class::Document,
            "application/msword",
            "doc",
        ))
    } else if has("Workbook") || has("Book") {
        Ok(Publishable::new(
            Class::Document,
            "application/vnd.ms-excel",
            "xls",
        ))
    } else if has("PowerPoint Document") {
        Ok(Publishable::new(
            Class::Document,
            "application/vnd.ms-powerpoint",
            "ppt",
        ))
    } else {
        Err(Withheld::Unknown)
    }
}

// --- Audio and video --------------------------------------------------------

fn audio_video(data: &[u8]) -> Option<Publishable> {
    let audio = |mime, ext| Some(Publishable::new(Class::Audio, mime, ext));
    let video = |mime, ext| Some(Publishable::new(Class::Video, mime, ext));
    if data.starts_with(b"ID3") {
        return id3_audio(data);
    }
    if data.starts_with(b"fLaC") {
        return audio("audio/flac", "flac");
    }
    if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WAVE".as_slice()) {
        return audio("audio/wav", "wav");
    }
    if data.starts_with(b"OggS") {
        return ogg(data);
    }
    if data.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return match ebml_doctype(data)? {
            b"webm" => video("video/webm", "webm"),
            b"matroska" => video("video/x-matroska", "mkv"),
            _ => None,
        };
    }
    if data.get(4..8) == Some(b"ftyp".as_slice()) {
        return iso_media(data);
    }
    frame_audio(data)
}

/// MP3 or AAC after an ID3v2 tag (MP3 when what follows is not recognised:
/// an ID3 tag is how MP3 files start).
fn id3_audio(data: &[u8]) -> Option<Publishable> {
    let version = *data.get(3)?;
    let size = data.get(6..10)?;
    if !(2..=4).contains(&version) || size.iter().any(|b| b & 0x80 != 0) {
        return None;
    }
    let len = size.iter().fold(0usize, |n, b| (n << 7) | usize::from(*b));
    let footer = if data.get(5).is_some_and(|f| f & 0x10 != 0) {
        10
    } else {
        0
    };
    let after = data.get(10 + len + footer..).unwrap_or_default();
    if after.starts_with(b"fLaC") {
        return Some(Publishable::new(Class::Audio, "audio/flac", "flac"));
    }
    Some(frame_audio(after).unwrap_or(Publishable::new(Class::Audio, "audio/mpeg", "mp3")))
}

/// An MPEG audio frame header (MP3: layer III) or an ADTS header (AAC).
fn frame_audio(data: &[u8]) -> Option<Publishable> {
    let &[0xFF, b1, b2, ..] = data else {
        return None;
    };
    if b1 & 0xE0 != 0xE0 {
        return None;
    }
    let version = (b1 >> 3) & 0b11;
    let layer = (b1 >> 1) & 0b11;
    if b1 & 0xF6 == 0xF0 {
        // ADTS: MPEG-4 or -2 AAC, layer 00; sampling frequency index 0–12.
        return ((b2 >> 2) & 0x0F <= 12)
            .then(|| Publishable::new(Class::Audio, "audio/aac", "aac"));
    }
    let bitrate = b2 >> 4;
    let rate = (b2 >> 2) & 0b11;
    (version != 0b01 && layer == 0b01 && bitrate != 0 && bitrate != 0x0F && rate != 0b11)
        .then(|| Publishable::new(Class::Audio, "audio/mpeg", "mp3"))
}

/// Ogg: the codec of the first packet.
fn ogg(data: &[u8]) -> Option<Publishable> {
    // The first page: 27 header bytes, one segment table entry per segment.
    let segments = usize::from(*data.get(26)?);
    let packet = data.get(27 + segments..)?;
    let starts = |magic: &[u8]| packet.starts_with(magic);
    if starts(b"\x80theora") {
        Some(Publishable::new(Class::Video, "video/ogg", "ogv"))
    } else if starts(b"\x01vorbis")
        || starts(b"OpusHead")
        || starts(b"\x7fFLAC")
        || starts(b"Speex   ")
    {
        Some(Publishable::new(Class::Audio, "audio/ogg", "ogg"))
    } else {
        None
    }
}

/// The DocType of an EBML header (WebM, Matroska).
fn ebml_doctype(data: &[u8]) -> Option<&[u8]> {
    let window = data.get(4..data.len().min(64))?;
    let at = window.windows(2).position(|w| w == [0x42, 0x82])?;
    // A one-byte size: 0x80 | length.
    let size = *window.get(at + 2)?;
    if size & 0x80 == 0 {
        return None;
    }
    let len = usize::from(size & 0x7F);
    window.get(at + 3..at + 3 + len)
}

/// ISO base media (MP4, M4A, MOV, 3GP) by the brands of its ftyp box.
/// HEIF and AVIF, which share the container, were taken as images.
fn iso_media(data: &[u8]) -> Option<Publishable> {
    let size = usize::try_from(u32::from_be_bytes(data.get(..4)?.try_into().ok()?)).ok()?;
    if !(16..=4096).contains(&size) || size % 4 != 0 {
        return None;
    }
    let major = data.get(8..12)?;
    let compatible = data.get(16..size.min(data.len()))?;
    let brands = std::iter::once(major).chain(compatible.chunks_exact(4));
    for brand in brands {
        let found = match brand {
            b"M4A " | b"M4B " => Publishable::new(Class::Audio, "audio/mp4", "m4a"),
            b"qt  " => Publishable::new(Class::Video, "video/quicktime", "mov"),
            b"3gp4" | b"3gp5" | b"3gp6" | b"3gp7" | b"3gs7" | b"3ge6" | b"3ge7" | b"3gg6"
            | b"3g2a" | b"3g2b" | b"3g2c" => Publishable::new(Class::Video, "video/3gpp", "3gp"),
            b"isom" | b"iso2" | b"iso3" | b"iso4" | b"iso5" | b"iso6" | b"mp41" | b"mp42"
            | b"avc1" | b"mmp4" | b"MSNV" | b"dash" | b"M4V " | b"M4VH" | b"M4VP" | b"XAVC"
            | b"f4v " => Publishable::new(Class::Video, "video/mp4", "mp4"),
            _ => continue,
        };
        return Some(found);
    }
    None
}

// --- Markup ---------------------------------------------------------------

enum Markup {
    Svg,
    Other,
}

/// Text that starts with markup (after a byte-order mark and white space,
/// in UTF-8 or UTF-16): SVG when an `<svg` element opens in its first
/// kilobytes.
fn markup(data: &[u8]) -> Option<Markup> {
    let head = data.get(..data.len().min(SVG_WINDOW)).unwrap_or(data);
    let text: String = if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        let big = head.starts_with(&[0xFE, 0xFF]);
        let units: Vec<u16> = head
            .get(2..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|p| {
                let pair = [
                    p.first().copied().unwrap_or(0),
                    p.get(1).copied().unwrap_or(0),
                ];
                if big {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head)).into_owned()
    };
    let lower = text.to_ascii_lowercase();
    if !lower.trim_start().starts_with('<') {
        return None;
    }
    Some(if lower.contains("<svg") {
        Markup::Svg
    } else {
        Markup::Other
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/images/",
                $name
            ))
        };
    }

    fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in parts {
            // OpenDocument stores its mimetype first and uncompressed.
            let method = if *name == "mimetype" {
                zip::CompressionMethod::Stored
            } else {
                zip::CompressionMethod::Deflated
            };
            let options = zip::write::SimpleFileOptions::default().compression_method(method);
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn content_types(main: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/main.xml\" ContentType=\"{main}\"/></Types>"
        )
    }

    fn ooxml(main: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
        let types = content_types(main);
        let mut parts: Vec<(&str, &[u8])> = vec![
            ("[Content_Types].xml", types.as_bytes()),
            ("_rels/.rels", b"<Relationships/>"),
            ("word/document.xml", b"<w:document/>"),
        ];
        parts.extend_from_slice(extra);
        zip_of(&parts)
    }

    fn odf(mime: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
        let mut parts: Vec<(&str, &[u8])> = vec![
            ("mimetype", mime.as_bytes()),
            ("content.xml", b"<office:document-content/>"),
            ("META-INF/manifest.xml", b"<manifest:manifest/>"),
        ];
        parts.extend_from_slice(extra);
        zip_of(&parts)
    }

    /// A compound file whose directory (sector 0) holds these streams.
    fn compound(streams: &[&str]) -> Vec<u8> {
        let mut data = vec![0u8; 512 * 3];
        data[..8].copy_from_slice(&screen::OLE_MAGIC);
        data[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes());
        let all = std::iter::once("Root Entry").chain(streams.iter().copied());
        for (i, name) in all.enumerate() {
            let at = 512 + i * 128;
            for (k, unit) in name.encode_utf16().enumerate() {
                data[at + 2 * k..at + 2 * k + 2].copy_from_slice(&unit.to_le_bytes());
            }
            let len = ((name.len() + 1) * 2) as u16;
            data[at + 64..at + 66].copy_from_slice(&len.to_le_bytes());
            data[at + 66] = if i == 0 { 5 } else { 2 };
        }
        data
    }

    fn published(name: &str, data: &[u8]) -> (&'static str, &'static str) {
        let p = classify(name, data).unwrap_or_else(|e| panic!("{name}: withheld: {e}"));
        (p.mime, p.extension)
    }

    fn withheld(name: &str, data: &[u8]) -> Withheld {
        match classify(name, data) {
            Ok(p) => panic!("{name}: published as {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn photos_by_their_bytes() {
        assert_eq!(
            published("a.jpg", fixture!("plain.jpg")),
            ("image/jpeg", "jpg")
        );
        assert_eq!(
            published("a.png", fixture!("gps.png")),
            ("image/png", "png")
        );
        assert_eq!(
            published("a.webp", fixture!("gps.webp")),
            ("image/webp", "webp")
        );
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert_eq!(published("a.gif", gif), ("image/gif", "gif"));
        assert_eq!(
            classify("x", fixture!("plain.jpg")).unwrap().photo_type(),
            Some(ImageType::Jpeg)
        );
    }

    #[test]
    fn the_name_never_decides() {
        // A JPEG named .php is published, as .jpg.
        assert_eq!(
            published("photo.php", fixture!("plain.jpg")),
            ("image/jpeg", "jpg")
        );
        assert_eq!(
            published("anh.html", fixture!("gps.png")),
            ("image/png", "png")
        );
        // A web page named .jpg is not.
        let page = b"<html><body><script>alert(document.cookie)</script></body></html>";
        assert_eq!(withheld("anh.jpg", page), Withheld::Markup);
        // The "JPEG" that is not one.
        assert_eq!(
            withheld("fake.jpg", fixture!("fake.jpg")),
            Withheld::Unknown
        );
        // A PDF named .txt is a PDF.
        assert_eq!(
            published("report.txt", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
            ("application/pdf", "pdf")
        );
    }

    #[test]
    fn web_pages_and_scripts_are_withheld() {
        for (name, data) in [
            ("shell.php", b"<?php system($_GET['c']); ?>".as_slice()),
            ("page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
            ("x.htm", b"\r\n  <HTML><BODY onload=alert(1)>"),
            ("a.shtml", b"<!--#exec cmd=\"id\" --><p>x</p>"),
            ("b.xhtml", b"<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></html>"),
            ("c.xml", b"\xEF\xBB\xBF<?xml version=\"1.0\"?><a/>"),
        ] {
            assert_eq!(withheld(name, data), Withheld::Markup, "{name}");
        }
        // Plain text and unknown bytes are not published either.
        assert_eq!(
            withheld("notes.txt", "Ghi chú của phóng viên".as_bytes()),
            Withheld::Unknown
        );
        assert_eq!(withheld("x.bin", &[0u8; 64]), Withheld::Unknown);
        assert_eq!(withheld("empty", b""), Withheld::Unknown);
    }

    #[test]
    fn svg_is_withheld() {
        let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><circle r=\"5\"/></svg>";
        assert_eq!(withheld("image.svg", svg), Withheld::Svg);
        assert_eq!(
            withheld("image.png", b"  <SVG onload=alert(1)>"),
            Withheld::Svg
        );
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "<svg onload=\"x()\"/>"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(withheld("image.svg", &utf16), Withheld::Svg);
        assert!(Withheld::Svg.to_string().contains("SVG"));
    }

    #[test]
    fn photo_formats_browsers_do_not_show_are_withheld() {
        assert_eq!(
            withheld("IMG_0001.HEIC", fixture!("heic-header.heic")),
            Withheld::PhotoFormat(ImageType::Heic)
        );
        assert_eq!(
            withheld("scan.tif", b"II\x2a\x00\x08\x00\x00\x00"),
            Withheld::PhotoFormat(ImageType::Tiff)
        );
    }

    #[test]
    fn office_documents_by_their_content() {
        let docx = ooxml(OOXML_MAIN[0].0, &[]);
        assert_eq!(published("bai-viet.docx", &docx), (OOXML_MAIN[0].1, "docx"));
        // The name does not matter, the package does.
        assert_eq!(published("bai-viet.zip", &docx).1, "docx");
        assert_eq!(published("x.xlsx", &ooxml(OOXML_MAIN[1].0, &[])).1, "xlsx");
        assert_eq!(published("x.pptx", &ooxml(OOXML_MAIN[2].0, &[])).1, "pptx");
        assert_eq!(
            published(
                "x.odt",
                &odf("application/vnd.oasis.opendocument.text", &[])
            ),
            ("application/vnd.oasis.opendocument.text", "odt")
        );
        assert_eq!(
            published(
                "x.ods",
                &odf("application/vnd.oasis.opendocument.spreadsheet", &[])
            )
            .1,
            "ods"
        );
        assert_eq!(
            published(
                "x.odp",
                &odf("application/vnd.oasis.opendocument.presentation", &[])
            )
            .1,
            "odp"
        );
        // An OpenDocument with only the (empty) library indexes has no macros.
        let indexed = odf(
            "application/vnd.oasis.opendocument.text",
            &[("Basic/script-lc.xml", b"<library:libraries/>")],
        );
        assert_eq!(published("x.odt", &indexed).1, "odt");
        assert_eq!(
            published("x.doc", &compound(&["WordDocument", "1Table"])),
            ("application/msword", "doc")
        );
        assert_eq!(published("x.xls", &compound(&["Workbook"])).1, "xls");
        assert_eq!(
            published("x.ppt", &compound(&["PowerPoint Document"])).1,
            "ppt"
        );
    }

    #[test]
    fn office_documents_with_macros_are_withheld() {
        let vba = ooxml(
            OOXML_MAIN[0].0,
            &[("word/vbaProject.bin", b"\xD0\xCF\x11\xE0")],
        );
        assert!(
            matches!(withheld("bai-viet.docx", &vba), Withheld::Macros(w) if w.contains("vbaProject.bin"))
        );
        let docm = ooxml(
            "application/vnd.ms-word.document.macroEnabled.main+xml",
            &[],
        );
        assert!(matches!(
            withheld("bai-viet.docx", &docm),
            Withheld::Macros(_)
        ));
        let xlsm = ooxml("application/vnd.ms-excel.sheet.macroEnabled.main+xml", &[]);
        assert!(matches!(withheld("bang.xlsx", &xlsm), Withheld::Macros(_)));
        // The name alone says macro-enabled.
        assert!(matches!(
            withheld("bai-viet.docm", &ooxml(OOXML_MAIN[0].0, &[])),
            Withheld::Macros(_)
        ));
        let activex = ooxml(OOXML_MAIN[0].0, &[("word/activeX/activeX1.xml", b"<ax/>")]);
        assert!(matches!(withheld("x.docx", &activex), Withheld::Macros(_)));
        let basic = odf(
            "application/vnd.oasis.opendocument.text",
            &[("Basic/Standard/Module1.xml", b"<script:module/>")],
        );
        assert!(matches!(withheld("x.odt", &basic), Withheld::Macros(w) if w.contains("Module1")));
        let python = odf(
            "application/vnd.oasis.opendocument.spreadsheet",
            &[("Scripts/python/run.py", b"import os")],
        );
        assert!(matches!(withheld("x.ods", &python), Withheld::Macros(_)));
        let word_macros = compound(&["WordDocument", "Macros"]);
        assert!(matches!(
            withheld("x.doc", &word_macros),
            Withheld::Macros(_)
        ));
    }

    #[test]
    fn other_packages_are_withheld() {
        // Two main parts, none, an archive, a template.
        let both = zip_of(&[(
            "[Content_Types].xml",
            format!(
                "{}{}",
                content_types(OOXML_MAIN[0].0),
                content_types(OOXML_MAIN[1].0)
            )
            .as_bytes(),
        )]);
        assert_eq!(withheld("x.docx", &both), Withheld::Unknown);
        let template = ooxml(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
            &[],
        );
        assert_eq!(withheld("x.docx", &template), Withheld::Unknown);
        assert_eq!(
            withheld("anh.zip", &zip_of(&[("anh.jpg", fixture!("plain.jpg"))])),
            Withheld::Unknown
        );
        assert_eq!(
            withheld(
                "x.odt",
                &odf("application/vnd.oasis.opendocument.text-template", &[])
            ),
            Withheld::Unknown
        );
        // A program inside an archive.
        assert!(matches!(
            withheld("x.zip", &zip_of(&[("setup.exe", b"MZ")])),
            Withheld::Dangerous(_)
        ));
        assert_eq!(
            withheld("x.doc", &compound(&["Something"])),
            Withheld::Unknown
        );
        // A broken zip.
        assert_eq!(withheld("x.docx", b"PK\x03\x04garbage"), Withheld::Unknown);
    }

    #[test]
    fn programs_are_withheld_whatever_their_name() {
        let mut pe = vec![0u8; 256];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert!(
            matches!(withheld("anh.jpg", &pe), Withheld::Dangerous(w) if w.contains("executable"))
        );
        assert!(matches!(
            withheld("run.sh", b"#!/bin/sh\nid"),
            Withheld::Dangerous(_)
        ));
    }

    #[test]
    fn audio_and_video_by_their_bytes() {
        let mp3_frame = [0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0];
        assert_eq!(published("a.mp3", &mp3_frame), ("audio/mpeg", "mp3"));
        let mut id3 = b"ID3\x04\x00\x00\x00\x00\x00\x02\x00\x00".to_vec();
        id3.extend_from_slice(&mp3_frame);
        assert_eq!(published("a.mp3", &id3), ("audio/mpeg", "mp3"));
        assert_eq!(
            published("a.aac", &[0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC]),
            ("audio/aac", "aac")
        );
        let ftyp = |major: &[u8; 4], compat: &[&[u8; 4]]| {
            let size = 16 + 4 * compat.len();
            let mut v = (size as u32).to_be_bytes().to_vec();
            v.extend_from_slice(b"ftyp");
            v.extend_from_slice(major);
            v.extend_from_slice(&[0, 0, 2, 0]);
            for c in compat {
                v.extend_from_slice(*c);
            }
            v.extend_from_slice(b"\0\0\0\x08free");
            v
        };
        assert_eq!(
            published("a.m4a", &ftyp(b"M4A ", &[b"M4A ", b"mp42", b"isom"])),
            ("audio/mp4", "m4a")
        );
        assert_eq!(
            published(
                "a.mp4",
                &ftyp(b"isom", &[b"isom", b"iso2", b"avc1", b"mp41"])
            ),
            ("video/mp4", "mp4")
        );
        assert_eq!(
            published("a.mov", &ftyp(b"qt  ", &[b"qt  "])),
            ("video/quicktime", "mov")
        );
        assert_eq!(
            published("a.3gp", &ftyp(b"3gp4", &[b"isom"])),
            ("video/3gpp", "3gp")
        );
        assert!(classify("a.mp4", &ftyp(b"crx ", &[b"crx "])).is_err());
        let ogg = |packet: &[u8]| {
            let mut v = b"OggS\x00\x02".to_vec();
            v.resize(26, 0);
            v.push(1);
            v.push(packet.len() as u8);
            v.extend_from_slice(packet);
            v
        };
        assert_eq!(
            published("a.ogg", &ogg(b"\x01vorbis\0\0\0\0")),
            ("audio/ogg", "ogg")
        );
        assert_eq!(
            published("a.opus", &ogg(b"OpusHead\x01\x02")),
            ("audio/ogg", "ogg")
        );
        assert_eq!(
            published("a.ogv", &ogg(b"\x80theora\x03")),
            ("video/ogg", "ogv")
        );
        assert!(classify("a.ogg", &ogg(b"<html>")).is_err());
        let riff_wave = b"RIFF\x24\x00\x00\x00WAVEfmt ";
        assert_eq!(published("a.wav", riff_wave), ("audio/wav", "wav"));
        assert_eq!(
            published("a.flac", b"fLaC\x00\x00\x00\x22"),
            ("audio/flac", "flac")
        );
        let ebml = |doctype: &[u8]| {
            let mut v = vec![
                0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82,
            ];
            v.push(0x80 | doctype.len() as u8);
            v.extend_from_slice(doctype);
            v
        };
        assert_eq!(published("a.webm", &ebml(b"webm")), ("video/webm", "webm"));
        assert_eq!(
            published("a.mkv", &ebml(b"matroska")),
            ("video/x-matroska", "mkv")
        );
        assert!(classify("a.webm", &ebml(b"other")).is_err());
        // Neither "\xFF" followed by text nor a JPEG is audio.
        assert!(classify("a.mp3", b"\xFF\xFFhello").is_err());
    }

    #[test]
    fn classification_is_total_on_any_prefix() {
        let samples: Vec<Vec<u8>> = vec![
            fixture!("plain.jpg").to_vec(),
            ooxml(OOXML_MAIN[0].0, &[]),
            odf("application/vnd.oasis.opendocument.text", &[]),
            compound(&["WordDocument"]),
            b"ID3\x04\x00\x00\x00\x00\x00\x02".to_vec(),
            b"OggS\x00\x02\x00\x00".to_vec(),
            vec![0x1A, 0x45, 0xDF, 0xA3, 0x42, 0x82, 0xFF],
            b"\x00\x00\x00\x14ftypM4A ".to_vec(),
        ];
        for s in &samples {
            for end in 0..s.len().min(600) {
                let _ = classify("x", &s[..end]);
            }
        }
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            Withheld::Location.to_string(),
            "location data could not be removed"
        );
        assert!(
            Withheld::PhotoFormat(ImageType::Heic)
                .to_string()
                .contains("HEIC")
        );
        assert_eq!(
            Withheld::Dangerous("is a script (.sh)".into()).to_string(),
            "is a script (.sh)"
        );
        assert_eq!(
            Withheld::Svg.to_string(),
            "an SVG drawing, which can carry scripts"
        );
    }
}
