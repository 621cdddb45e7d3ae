//! Image attachments: what they really are, how big, and where they were taken.
//!
//! Collaborators send photos from phones, and phones write the place a photo
//! was taken into its EXIF metadata (the GPS IFD). The board must neither keep
//! nor publish that location, so `strip_gps` removes it and `has_gps` reports
//! whether any is left. Everything here is pure and reads untrusted bytes:
//! the type comes from magic numbers, never from the file name; every read
//! is bounds-checked; every walk is bounded; and anything we cannot change
//! safely is left untouched and reported, never half-rewritten.
//!
//! How location is removed, per format:
//!
//! - JPEG: cleaned in place, so the file keeps its length. That matters
//!   beyond tidiness: Multi-Picture (MPF) files from phones locate their
//!   secondary images by absolute offsets, and EXIF values are located by
//!   offsets too, so moving any byte would break them. The GPS IFD's table
//!   and the values its entries point to are zeroed (which also sets its
//!   entry count to 0), and the 0x8825 pointer entry is removed from IFD0 by
//!   shifting the later entries up and zeroing the freed slot. Removing the
//!   entry, rather than renaming its tag, keeps IFD0 sorted by tag as TIFF
//!   requires and leaves no unknown tag for strict readers to complain about.
//!   Every EXIF block of every image in the file (main image and MPF
//!   secondary images) is cleaned.
//! - PNG: an eXIf chunk holding GPS is dropped whole. Other chunks are copied
//!   byte for byte, so their CRCs stay valid without computing any.
//! - WebP: an EXIF chunk holding GPS is dropped, the VP8X EXIF flag cleared
//!   when no EXIF chunk is left, and the RIFF size reduced accordingly.
//! - Other types (HEIC, TIFF, GIF, BMP) are returned unchanged; `has_gps`
//!   still looks into HEIC and TIFF so a caller can refuse to publish them.
//!
//! `has_gps` is deliberately conservative: EXIF that points to a GPS IFD but
//! is too broken to clean safely counts as "has GPS", so a caller that
//! quarantines on `has_gps(&strip_gps(x).data)` never publishes a location
//! this module could not rule out.

use std::borrow::Cow;
use std::ops::{ControlFlow, Range};

/// An image format recognised from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    Gif,
    Webp,
    /// HEIF family: ftyp brands heic, heix, mif1, hevc and avif (AVIF is
    /// grouped here because it shares the container and its metadata).
    Heic,
    Tiff,
    Bmp,
}

impl ImageType {
    /// The MIME type of the format.
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
            ImageType::Heic => "image/heic",
            ImageType::Tiff => "image/tiff",
            ImageType::Bmp => "image/bmp",
        }
    }

    /// The usual file extension, without the dot (the same as
    /// `names::extension_for` gives for the MIME type).
    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Jpeg => "jpg",
            ImageType::Png => "png",
            ImageType::Gif => "gif",
            ImageType::Webp => "webp",
            ImageType::Heic => "heic",
            ImageType::Tiff => "tif",
            ImageType::Bmp => "bmp",
        }
    }
}

/// An image with its location data removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned<'a> {
    /// Borrowed from the input when nothing was changed, so clean images
    /// (most of them) are not copied; owned when GPS data was removed.
    pub data: Cow<'a, [u8]>,
    /// Whether GPS data was found and removed.
    pub removed_gps: bool,
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// ftyp brands of the HEIF family we accept as `ImageType::Heic`.
const HEIF_BRANDS: [&[u8; 4]; 5] = [b"heic", b"heix", b"mif1", b"hevc", b"avif"];

/// Most compatible brands an ftyp box is searched for; real files list a few.
const MAX_BRANDS: usize = 64;

/// JPEG images followed in one file (main image and MPF secondary images).
const MAX_JPEG_IMAGES: usize = 64;

/// IFDs walked in one EXIF block; real EXIF has at most five (IFD0, IFD1,
/// Exif, Interoperability, GPS), so more means a crafted or broken file.
const MAX_IFDS: usize = 16;

/// Boxes read at one level of an ISO-BMFF (HEIF) structure.
const MAX_BOXES: usize = 4096;

/// The image type from the first bytes (magic numbers), None when not an
/// image we know.
pub fn sniff(data: &[u8]) -> Option<ImageType> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageType::Jpeg)
    } else if data.starts_with(PNG_SIGNATURE) {
        Some(ImageType::Png)
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(ImageType::Gif)
    } else if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP".as_slice()) {
        Some(ImageType::Webp)
    } else if is_heif(data) {
        Some(ImageType::Heic)
    } else if data.starts_with(b"II\x2a\x00") || data.starts_with(b"MM\x00\x2a") {
        Some(ImageType::Tiff)
    } else if is_bmp(data) {
        Some(ImageType::Bmp)
    } else {
        None
    }
}

fn is_heif(data: &[u8]) -> bool {
    if data.get(4..8) != Some(b"ftyp".as_slice()) {
        return false;
    }
    let Some(size) = be32(data, 0).and_then(|s| usize::try_from(s).ok()) else {
        return false;
    };
    // Major brand, minor version, then compatible brands up to the box end.
    if size < 16 {
        return false;
    }
    let known = |at: usize| bytes::<4>(data, at).is_some_and(|b| HEIF_BRANDS.contains(&&b));
    // A file whose major brand is something else (msf1, a vendor brand)
    // still declares a HEIF brand among its compatible ones.
    known(8)
        || (16..size.min(data.len()))
            .step_by(4)
            .take(MAX_BRANDS)
            .any(known)
}

fn is_bmp(data: &[u8]) -> bool {
    // "BM" alone would match text starting with those letters, so the DIB
    // header size must be one of the defined ones and the pixel data must
    // start after the headers.
    data.starts_with(b"BM")
        && matches!(
            le32(data, 14),
            Some(12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
        )
        && le32(data, 10).is_some_and(|pixels| pixels >= 26)
}

/// Width and height in pixels as stored in the headers, before any EXIF
/// orientation or HEIF rotation is applied (a portrait phone photo may read
/// as landscape); for HEIF, the primary item's ispe cropped by its clap.
/// None when not found or zero.
pub fn dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let (width, height) = match sniff(data)? {
        ImageType::Jpeg => jpeg_dimensions(data),
        ImageType::Png => {
            if data.get(12..16) != Some(b"IHDR".as_slice()) {
                return None;
            }
            Some((be32(data, 16)?, be32(data, 20)?))
        }
        ImageType::Gif => Some((le16(data, 6)?.into(), le16(data, 8)?.into())),
        ImageType::Webp => webp_dimensions(data),
        ImageType::Heic => heif_dimensions(data),
        ImageType::Tiff => tiff_dimensions(data),
        ImageType::Bmp => bmp_dimensions(data),
    }?;
    (width > 0 && height > 0).then_some((width, height))
}

fn jpeg_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let mut found = None;
    walk_jpeg(data, |marker, _, payload| {
        // SOF0..SOF15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but
        // are not frame headers.
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            // Precision (1 byte), then height and width.
            found = be16(payload, 1).zip(be16(payload, 3));
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    let (height, width) = found?;
    Some((width.into(), height.into()))
}

fn webp_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    // The first chunk describes the image in all three WebP flavours.
    let kind = data.get(12..16)?;
    let payload = data.get(20..)?;
    match kind {
        b"VP8 " => {
            // Frame tag (3 bytes), start code, then 14-bit sizes.
            if payload.get(3..6) != Some([0x9D, 0x01, 0x2A].as_slice()) {
                return None;
            }
            let width = le16(payload, 6)? & 0x3FFF;
            let height = le16(payload, 8)? & 0x3FFF;
            Some((width.into(), height.into()))
        }
        b"VP8L" => {
            if payload.first() != Some(&0x2F) {
                return None;
            }
            // 14 bits of width - 1, then 14 bits of height - 1.
            let bits = le32(payload, 1)?;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            // Flags (1), reserved (3), then 24-bit canvas width - 1 and height - 1.
            let width = le24(payload, 4)?.checked_add(1)?;
            let height = le24(payload, 7)?.checked_add(1)?;
            Some((width, height))
        }
        _ => None,
    }
}

fn bmp_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    if le32(data, 14)? == 12 {
        // OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes.
        return Some((le16(data, 18)?.into(), le16(data, 20)?.into()));
    }
    let width = i32::from_le_bytes(bytes::<4>(data, 18)?);
    // A negative height means rows stored top-down, not a negative size.
    let height = i32::from_le_bytes(bytes::<4>(data, 22)?);
    Some((u32::try_from(width).ok()?, height.unsigned_abs()))
}

fn tiff_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let tiff = Tiff::new(data)?;
    let ifd0 = tiff.ifd(tiff.offset_at(4)?)?;
    let mut width = None;
    let mut height = None;
    for entry in tiff.entries(ifd0) {
        let value = match entry.kind {
            SHORT => tiff.u16_at(entry.value_at()?).map(u32::from),
            LONG => tiff.u32_at(entry.value_at()?),
            _ => None,
        };
        match entry.tag {
            0x0100 => width = value,
            0x0101 => height = value,
            _ => {}
        }
    }
    width.zip(height)
}

fn heif_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let meta = heif_meta(data)?;
    let iprp = child_box(data, meta.clone(), b"iprp")?;
    let properties = bmff_boxes(data, child_box(data, iprp.clone(), b"ipco")?);
    let ispe = |b: &BmffBox| {
        // Version and flags (4 bytes), then width and height.
        let start = b.body.start;
        Some((
            be32(data, start.checked_add(4)?)?,
            be32(data, start.checked_add(8)?)?,
        ))
    };
    let primary = child_box(data, meta, b"pitm").and_then(|pitm| {
        let version = *data.get(pitm.start)?;
        let at = pitm.start.checked_add(4)?;
        if version == 0 {
            be16(data, at).map(u32::from)
        } else {
            be32(data, at)
        }
    });
    let associated = primary
        .zip(child_box(data, iprp, b"ipma"))
        .and_then(|(item, ipma)| item_properties(data, ipma, item));
    if let Some(indices) = associated {
        // Property indices count from 1; 0 means "none".
        let of_kind = |kind: &[u8; 4]| {
            indices
                .iter()
                .filter_map(|&i| properties.get(i.checked_sub(1)?))
                .find(|b| &b.kind == kind)
        };
        if let Some(size) = of_kind(b"ispe").and_then(ispe) {
            // Encoders pad the coded picture to whole blocks and crop it
            // back with a clean aperture: the crop is the picture's size.
            return Some(
                of_kind(b"clap")
                    .and_then(|clap| clean_aperture(data, clap))
                    .unwrap_or(size),
            );
        }
    }
    // Without pitm and ipma: of the ispe properties (the image, its grid
    // tiles, the thumbnail) the largest is the full picture.
    properties
        .iter()
        .filter(|b| &b.kind == b"ispe")
        .filter_map(ispe)
        .max_by_key(|&(w, h)| u64::from(w) * u64::from(h))
}

/// A copy of the image without location data (see the module comment for
/// what that means per format); unchanged with `removed_gps = false` when
/// there is none, when the type is not one we clean, or when the metadata is
/// too broken to change safely.
pub fn strip_gps(data: &[u8]) -> Cleaned<'_> {
    let cleaned = match sniff(data) {
        Some(ImageType::Jpeg) => strip_jpeg(data),
        Some(ImageType::Png) => strip_png(data),
        Some(ImageType::Webp) => strip_webp(data),
        _ => None,
    };
    match cleaned {
        Some(cleaned) => Cleaned {
            data: Cow::Owned(cleaned),
            removed_gps: true,
        },
        None => Cleaned {
            data: Cow::Borrowed(data),
            removed_gps: false,
        },
    }
}

/// Whether an image still has GPS data: a GPS IFD with at least one entry
/// in the EXIF of a JPEG (any of its images), a PNG eXIf chunk, a WebP EXIF
/// chunk, a HEIF Exif item or a TIFF file. Conservative: EXIF with a TIFF
/// header whose IFD0 or GPS IFD cannot be read safely, or an EXIF chunk or
/// item cut off or out of reach, counts as having GPS.
pub fn has_gps(data: &[u8]) -> bool {
    match sniff(data) {
        Some(ImageType::Jpeg) => jpeg_exif_blocks(data)
            .into_iter()
            .any(|block| data.get(block).is_some_and(exif_has_gps)),
        Some(ImageType::Png) => {
            let walk = walk_png(data);
            walk.cut_exif
                || walk
                    .chunks
                    .iter()
                    .any(|c| &c.kind == b"eXIf" && chunk_exif_has_gps(data, c))
        }
        Some(ImageType::Webp) => walk_webp(data).is_some_and(|walk| {
            walk.cut_exif
                || walk
                    .chunks
                    .iter()
                    .any(|c| &c.kind == b"EXIF" && chunk_exif_has_gps(data, c))
        }),
        Some(ImageType::Heic) => heif_has_gps(data),
        Some(ImageType::Tiff) => exif_has_gps(data),
        Some(ImageType::Gif | ImageType::Bmp) | None => false,
    }
}

// --- JPEG -----------------------------------------------------------------

/// Walks the marker segments of every JPEG image in `data` (the first one
/// and any that directly follow it, as MPF files store them), calling
/// `visit(marker, payload offset, payload)` for each segment that has a
/// length. The payload is cut short when the file is. The walk stops at the
/// first thing that is not a well-formed marker.
fn walk_jpeg(data: &[u8], mut visit: impl FnMut(u8, usize, &[u8]) -> ControlFlow<()>) {
    let mut start = 0;
    for _ in 0..MAX_JPEG_IMAGES {
        let is_jpeg = data
            .get(start..)
            .is_some_and(|rest| rest.starts_with(&[0xFF, 0xD8, 0xFF]));
        if !is_jpeg {
            return;
        }
        match start
            .checked_add(2)
            .and_then(|pos| walk_jpeg_image(data, pos, &mut visit))
        {
            Some(end) => start = end,
            None => return,
        }
    }
}

/// Walks one image from just after its SOI; returns the offset after its
/// EOI, or None when the walk stopped early.
fn walk_jpeg_image(
    data: &[u8],
    mut pos: usize,
    visit: &mut impl FnMut(u8, usize, &[u8]) -> ControlFlow<()>,
) -> Option<usize> {
    loop {
        if *data.get(pos)? != 0xFF {
            return None;
        }
        // Any number of 0xFF fill bytes may precede the marker code.
        while *data.get(pos)? == 0xFF {
            pos = pos.checked_add(1)?;
        }
        let marker = *data.get(pos)?;
        pos = pos.checked_add(1)?;
        match marker {
            0xD9 => return Some(pos),
            // Markers without a length: TEM and the restart markers.
            0x01 | 0xD0..=0xD7 => continue,
            // A second SOI or a stuffed zero: not a marker stream.
            0x00 | 0xD8 => return None,
            _ => {}
        }
        let len = usize::from(be16(data, pos)?);
        if len < 2 {
            return None;
        }
        let end = pos.checked_add(len)?;
        let payload_start = pos.checked_add(2)?;
        let payload = data
            .get(payload_start..end.min(data.len()))
            .unwrap_or_default();
        if visit(marker, payload_start, payload).is_break() {
            return None;
        }
        pos = if marker == 0xDA {
            skip_entropy_coded(data, end)?
        } else {
            end
        };
    }
}

/// The offset of the first marker after entropy-coded data starting at
/// `pos`. Inside that data 0xFF is followed by a stuffed 0x00 or is a
/// restart marker; anything else starts a real marker.
fn skip_entropy_coded(data: &[u8], pos: usize) -> Option<usize> {
    let rest = data.get(pos..)?;
    let mut i = 0usize;
    loop {
        let ff = i.checked_add(rest.get(i..)?.iter().position(|&b| b == 0xFF)?)?;
        let after = ff.checked_add(1)?;
        match rest.get(after)? {
            0x00 | 0xD0..=0xD7 => i = after.checked_add(1)?,
            _ => return pos.checked_add(ff),
        }
    }
}

/// The TIFF structures of the EXIF APP1 segments of all images, as ranges of
/// `data` (cut short when the file is).
fn jpeg_exif_blocks(data: &[u8]) -> Vec<Range<usize>> {
    let mut blocks = Vec::new();
    walk_jpeg(data, |marker, start, payload| {
        // "Exif\0" and a pad byte (0, or 0xFF from a few old writers).
        if marker == 0xE1
            && payload.len() >= 6
            && payload.starts_with(b"Exif\0")
            && let (Some(from), Some(to)) = (start.checked_add(6), start.checked_add(payload.len()))
        {
            blocks.push(from..to);
        }
        ControlFlow::Continue(())
    });
    blocks
}

fn strip_jpeg(data: &[u8]) -> Option<Vec<u8>> {
    let mut patches = Vec::new();
    for block in jpeg_exif_blocks(data) {
        match examine_exif(data.get(block.clone())?) {
            Location::Absent => {}
            // One block we cannot clean: change nothing, has_gps says why.
            Location::Stuck => return None,
            Location::Removable(found) => {
                for patch in found {
                    patches.push(Patch {
                        at: block.start.checked_add(patch.at)?,
                        bytes: patch.bytes,
                    });
                }
            }
        }
    }
    if patches.is_empty() {
        return None;
    }
    let mut out = data.to_vec();
    for patch in patches {
        let end = patch.at.checked_add(patch.bytes.len())?;
        out.get_mut(patch.at..end)?.copy_from_slice(&patch.bytes);
    }
    Some(out)
}

// --- PNG and WebP ---------------------------------------------------------

/// A chunk of a PNG or RIFF file: its type, its payload and where it ends
/// (after the CRC or the pad byte).
struct Chunk {
    kind: [u8; 4],
    start: usize,
    payload: Range<usize>,
    end: usize,
}

struct ChunkWalk {
    chunks: Vec<Chunk>,
    /// Where the walked chunks end; what follows is copied as it is.
    tail: usize,
    /// A chunk cut off by the end of the data is an EXIF chunk: it cannot
    /// be dropped cleanly and may hold GPS.
    cut_exif: bool,
}

fn walk_png(data: &[u8]) -> ChunkWalk {
    let mut chunks = Vec::new();
    let mut pos = PNG_SIGNATURE.len();
    let mut ended = false;
    while let Some(chunk) = png_chunk(data, pos) {
        pos = chunk.end;
        ended = &chunk.kind == b"IEND";
        chunks.push(chunk);
        if ended {
            break;
        }
    }
    let cut_exif =
        !ended && pos.checked_add(4).and_then(|at| bytes::<4>(data, at)) == Some(*b"eXIf");
    ChunkWalk {
        chunks,
        tail: pos,
        cut_exif,
    }
}

fn png_chunk(data: &[u8], start: usize) -> Option<Chunk> {
    let len = usize::try_from(be32(data, start)?).ok()?;
    let kind = bytes::<4>(data, start.checked_add(4)?)?;
    let payload_start = start.checked_add(8)?;
    let payload_end = payload_start.checked_add(len)?;
    // The CRC follows the payload.
    let end = payload_end.checked_add(4)?;
    (end <= data.len()).then_some(Chunk {
        kind,
        start,
        payload: payload_start..payload_end,
        end,
    })
}

fn strip_png(data: &[u8]) -> Option<Vec<u8>> {
    let walk = walk_png(data);
    if walk.cut_exif {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(data.get(..PNG_SIGNATURE.len())?);
    let mut removed = false;
    for chunk in &walk.chunks {
        if &chunk.kind == b"eXIf" && chunk_exif_has_gps(data, chunk) {
            removed = true;
        } else {
            out.extend_from_slice(data.get(chunk.start..chunk.end)?);
        }
    }
    out.extend_from_slice(data.get(walk.tail..)?);
    removed.then_some(out)
}

/// The chunks inside the RIFF container, None when the header is not WebP's.
fn walk_webp(data: &[u8]) -> Option<ChunkWalk> {
    let riff_size = usize::try_from(le32(data, 4)?).ok()?;
    // Trailing bytes after the RIFF container are not ours to read.
    let riff_end = riff_size.checked_add(8)?.min(data.len());
    let mut chunks = Vec::new();
    let mut pos = 12;
    while let Some(chunk) = riff_chunk(data, pos, riff_end) {
        pos = chunk.end;
        chunks.push(chunk);
    }
    let cut_exif = bytes::<4>(data, pos) == Some(*b"EXIF");
    Some(ChunkWalk {
        chunks,
        tail: pos,
        cut_exif,
    })
}

fn riff_chunk(data: &[u8], start: usize, riff_end: usize) -> Option<Chunk> {
    let kind = bytes::<4>(data, start)?;
    let len = usize::try_from(le32(data, start.checked_add(4)?)?).ok()?;
    let payload_start = start.checked_add(8)?;
    let payload_end = payload_start.checked_add(len)?;
    if payload_end > riff_end {
        return None;
    }
    // Payloads are padded to an even length; a missing final pad byte is
    // tolerated, as decoders do.
    let end = payload_end.checked_add(len & 1)?.min(riff_end);
    Some(Chunk {
        kind,
        start,
        payload: payload_start..payload_end,
        end,
    })
}

fn strip_webp(data: &[u8]) -> Option<Vec<u8>> {
    let walk = walk_webp(data)?;
    if walk.cut_exif {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(data.get(..12)?);
    let mut removed_bytes = 0usize;
    let mut exif_left = false;
    let mut vp8x_flags_at = None;
    for chunk in &walk.chunks {
        if &chunk.kind == b"EXIF" && chunk_exif_has_gps(data, chunk) {
            removed_bytes = removed_bytes.checked_add(chunk.end.checked_sub(chunk.start)?)?;
            continue;
        }
        exif_left |= &chunk.kind == b"EXIF";
        if &chunk.kind == b"VP8X" && chunk.payload.end > chunk.payload.start {
            // The flags are the payload's first byte, 8 bytes into the chunk.
            vp8x_flags_at = out.len().checked_add(8);
        }
        out.extend_from_slice(data.get(chunk.start..chunk.end)?);
    }
    if removed_bytes == 0 {
        return None;
    }
    out.extend_from_slice(data.get(walk.tail..)?);
    let riff_size = le32(data, 4)?.checked_sub(u32::try_from(removed_bytes).ok()?)?;
    out.get_mut(4..8)?.copy_from_slice(&riff_size.to_le_bytes());
    // Bit 3 of the VP8X flags says "has an EXIF chunk".
    if !exif_left && let Some(flags) = vp8x_flags_at.and_then(|at| out.get_mut(at)) {
        *flags &= !0x08;
    }
    Some(out)
}

/// Whether the EXIF payload of a PNG or WebP chunk holds GPS.
fn chunk_exif_has_gps(data: &[u8], chunk: &Chunk) -> bool {
    data.get(chunk.payload.clone()).is_some_and(exif_has_gps)
}

// --- HEIF -----------------------------------------------------------------

/// An ISO-BMFF box: its type and the range of its body in the file.
struct BmffBox {
    kind: [u8; 4],
    body: Range<usize>,
}

/// The boxes in `range` of `data`; a box running past the range is cut
/// short and ends the walk (truncated files).
fn bmff_boxes(data: &[u8], range: Range<usize>) -> Vec<BmffBox> {
    let mut boxes = Vec::new();
    let end = range.end.min(data.len());
    let mut pos = range.start;
    while boxes.len() < MAX_BOXES {
        let Some(size) = be32(data, pos) else { break };
        let Some(kind) = pos.checked_add(4).and_then(|at| bytes::<4>(data, at)) else {
            break;
        };
        let (header, size) = match size {
            // Size 0: the box runs to the end of its container.
            0 => (8, end.saturating_sub(pos)),
            // Size 1: a 64-bit size follows the type.
            1 => {
                let large = pos.checked_add(8).and_then(|at| be64(data, at));
                match large.and_then(|s| usize::try_from(s).ok()) {
                    Some(large) => (16, large),
                    None => break,
                }
            }
            n => match usize::try_from(n) {
                Ok(n) => (8, n),
                Err(_) => break,
            },
        };
        if size < header {
            break;
        }
        let (Some(body_start), Some(box_end)) = (pos.checked_add(header), pos.checked_add(size))
        else {
            break;
        };
        if body_start > end {
            break;
        }
        boxes.push(BmffBox {
            kind,
            body: body_start..box_end.min(end),
        });
        if box_end >= end {
            break;
        }
        pos = box_end;
    }
    boxes
}

fn child_box(data: &[u8], range: Range<usize>, kind: &[u8; 4]) -> Option<Range<usize>> {
    bmff_boxes(data, range)
        .into_iter()
        .find(|b| &b.kind == kind)
        .map(|b| b.body)
}

/// The children of the top-level meta box (a full box: its body starts
/// with 4 bytes of version and flags).
fn heif_meta(data: &[u8]) -> Option<Range<usize>> {
    let meta = child_box(data, 0..data.len(), b"meta")?;
    Some(meta.start.checked_add(4)?..meta.end)
}

/// Width and height of a clap box (fractions, rounded as libheif does).
fn clean_aperture(data: &[u8], clap: &BmffBox) -> Option<(u32, u32)> {
    let at = clap.body.start;
    let fraction = |offset: usize| {
        let n = be32(data, at.checked_add(offset)?)?;
        let d = be32(data, at.checked_add(offset)?.checked_add(4)?)?;
        n.checked_add(d / 2)?.checked_div(d)
    };
    Some((fraction(0)?, fraction(8)?))
}

/// The 1-based property indices ipma associates with `item`.
fn item_properties(data: &[u8], ipma: Range<usize>, item: u32) -> Option<Vec<usize>> {
    let mut r = Reader {
        data: data.get(..ipma.end)?,
        pos: ipma.start,
    };
    let version = r.u8()?;
    let [_, _, flags] = r.take::<3>()?;
    let count = r.u32()?;
    // Each entry takes at least 3 bytes, so a huge count ends with the data.
    for _ in 0..count {
        let id = if version < 1 {
            u32::from(r.u16()?)
        } else {
            r.u32()?
        };
        let associations = r.u8()?;
        let mut indices = Vec::with_capacity(usize::from(associations));
        for _ in 0..associations {
            // The top bit marks the property essential; the rest is the index.
            let index = if flags & 1 == 1 {
                r.u16()? & 0x7FFF
            } else {
                u16::from(r.u8()? & 0x7F)
            };
            indices.push(usize::from(index));
        }
        if id == item {
            return Some(indices);
        }
    }
    None
}

fn heif_has_gps(data: &[u8]) -> bool {
    let Some(meta) = heif_meta(data) else {
        return false;
    };
    let exif_items = child_box(data, meta.clone(), b"iinf")
        .map(|iinf| exif_item_ids(data, iinf))
        .unwrap_or_default();
    if exif_items.is_empty() {
        return false;
    }
    let idat = child_box(data, meta.clone(), b"idat");
    let Some(iloc) = child_box(data, meta, b"iloc") else {
        // An Exif item we cannot locate may hold anything.
        return true;
    };
    exif_items.iter().any(|&id| {
        match item_bytes(data, iloc.clone(), idat.clone(), id) {
            // The item starts with the offset of the TIFF header after
            // itself (past "Exif\0\0", usually 6).
            Some(item) => {
                let tiff = be32(&item, 0)
                    .and_then(|skip| usize::try_from(skip).ok())
                    .and_then(|skip| skip.checked_add(4))
                    .and_then(|at| item.get(at..));
                tiff.is_none_or(exif_has_gps)
            }
            None => true,
        }
    })
}

/// The ids of the items of type "Exif" listed in an iinf box.
fn exif_item_ids(data: &[u8], iinf: Range<usize>) -> Vec<u32> {
    let Some(&version) = data.get(iinf.start) else {
        return Vec::new();
    };
    // Version and flags, then a 16-bit (version 0) or 32-bit entry count.
    let first = iinf.start.saturating_add(if version == 0 { 6 } else { 8 });
    bmff_boxes(data, first..iinf.end)
        .into_iter()
        .filter(|b| &b.kind == b"infe")
        .filter_map(|infe| {
            let start = infe.body.start;
            let version = *data.get(start)?;
            // Versions 0 and 1 carry no item type (and no Exif).
            let (id, type_at) = match version {
                2 => (u32::from(be16(data, start.checked_add(4)?)?), 8),
                3 => (be32(data, start.checked_add(4)?)?, 10),
                _ => return None,
            };
            // The protection index (16 bits) sits between id and type.
            let kind = bytes::<4>(data, start.checked_add(type_at)?)?;
            (infe.body.end >= start.checked_add(type_at + 4)? && &kind == b"Exif").then_some(id)
        })
        .collect()
}

/// The bytes of item `id`, from the iloc box; None when the item is not
/// found, uses a construction we do not follow, or lies outside the file.
fn item_bytes(
    data: &[u8],
    iloc: Range<usize>,
    idat: Option<Range<usize>>,
    id: u32,
) -> Option<Vec<u8>> {
    let mut r = Reader {
        data: data.get(..iloc.end)?,
        pos: iloc.start,
    };
    let version = r.u8()?;
    r.skip(3)?;
    let sizes = r.u8()?;
    let (offset_size, length_size) = (sizes >> 4, sizes & 0x0F);
    let sizes = r.u8()?;
    let base_size = sizes >> 4;
    let index_size = if version == 1 || version == 2 {
        sizes & 0x0F
    } else {
        0
    };
    let count = if version < 2 {
        u32::from(r.u16()?)
    } else {
        r.u32()?
    };
    // Each item takes at least 6 bytes, so a huge count ends with the data.
    for _ in 0..count {
        let item_id = if version < 2 {
            u32::from(r.u16()?)
        } else {
            r.u32()?
        };
        let method = if version == 1 || version == 2 {
            r.u16()? & 0x0F
        } else {
            0
        };
        r.skip(2)?; // data reference index
        let base = r.sized(base_size)?;
        let extents = r.u16()?;
        let mut bytes = Vec::new();
        for _ in 0..extents {
            r.sized(index_size)?;
            let offset = r.sized(offset_size)?;
            let length = r.sized(length_size)?;
            if item_id != id {
                continue;
            }
            // Method 0: offsets in the file; 1: offsets in the idat box;
            // 2 (item references) is not followed.
            let source = match method {
                0 => 0..data.len(),
                1 => idat.clone()?,
                _ => return None,
            };
            let start = source.start.checked_add(base)?.checked_add(offset)?;
            // Length 0 means "to the end of the source".
            let end = if length == 0 {
                source.end
            } else {
                start.checked_add(length)?
            };
            if end > source.end {
                return None;
            }
            bytes.extend_from_slice(data.get(start..end)?);
        }
        if item_id == id {
            return Some(bytes);
        }
    }
    None
}

/// A cursor over big-endian fields, for the variable layout of iloc.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let value = bytes::<N>(self.data, self.pos)?;
        self.pos = self.pos.checked_add(N)?;
        Some(value)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.pos = self.pos.checked_add(n)?;
        (self.pos <= self.data.len()).then_some(())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    /// A field of 0, 4 or 8 bytes, as iloc declares its offset sizes.
    fn sized(&mut self, size: u8) -> Option<usize> {
        match size {
            0 => Some(0),
            4 => usize::try_from(self.u32()?).ok(),
            8 => usize::try_from(u64::from_be_bytes(self.take()?)).ok(),
            _ => None,
        }
    }
}

// --- EXIF (TIFF structure) ------------------------------------------------

const SHORT: u16 = 3;
const LONG: u16 = 4;
/// TIFF type 13, an IFD offset (some writers use it for sub-IFD pointers).
const IFD: u16 = 13;

const TAG_GPS: u16 = 0x8825;
const TAG_EXIF: u16 = 0x8769;
const TAG_INTEROP: u16 = 0xA005;
const TAG_THUMBNAIL_OFFSET: u16 = 0x0201;
const TAG_THUMBNAIL_LENGTH: u16 = 0x0202;

/// A TIFF structure (an EXIF block or a TIFF file) and its byte order.
#[derive(Clone, Copy)]
struct Tiff<'a> {
    data: &'a [u8],
    big_endian: bool,
}

/// An IFD whose entry table lies within the data.
#[derive(Clone, Copy)]
struct Ifd {
    at: usize,
    count: usize,
    /// Just past the last entry, where the next-IFD offset is.
    end: usize,
}

/// One 12-byte IFD entry.
struct Entry {
    at: usize,
    tag: u16,
    kind: u16,
    count: u32,
}

impl Entry {
    /// Where the inline value, or the offset of the value, is.
    fn value_at(&self) -> Option<usize> {
        self.at.checked_add(8)
    }
}

/// Where the value of an entry is.
enum Value {
    /// In the entry itself (4 bytes or fewer).
    Inline,
    /// Elsewhere in the structure.
    At(Range<usize>),
    /// A type TIFF does not define: its size, hence its place, is unknown.
    UnknownType,
}

impl<'a> Tiff<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        match data.get(..4)? {
            b"II\x2a\x00" => Some(Tiff {
                data,
                big_endian: false,
            }),
            b"MM\x00\x2a" => Some(Tiff {
                data,
                big_endian: true,
            }),
            _ => None,
        }
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let raw = bytes::<2>(self.data, at)?;
        Some(if self.big_endian {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let raw = bytes::<4>(self.data, at)?;
        Some(if self.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    }

    fn offset_at(&self, at: usize) -> Option<usize> {
        usize::try_from(self.u32_at(at)?).ok()
    }

    fn u16_bytes(&self, value: u16) -> [u8; 2] {
        if self.big_endian {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        }
    }

    /// The IFD at `at`, None unless its whole entry table is in the data.
    fn ifd(&self, at: usize) -> Option<Ifd> {
        let count = usize::from(self.u16_at(at)?);
        let end = at.checked_add(2)?.checked_add(count.checked_mul(12)?)?;
        (end <= self.data.len()).then_some(Ifd { at, count, end })
    }

    /// The IFD table with its next-IFD offset, as far as it is in the data.
    fn ifd_range(&self, ifd: Ifd) -> Range<usize> {
        ifd.at..ifd.end.saturating_add(4).min(self.data.len())
    }

    fn entries(&self, ifd: Ifd) -> impl Iterator<Item = Entry> + '_ {
        (0..ifd.count).filter_map(move |i| {
            let at = ifd.at.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
            Some(Entry {
                at,
                tag: self.u16_at(at)?,
                kind: self.u16_at(at.checked_add(2)?)?,
                count: self.u32_at(at.checked_add(4)?)?,
            })
        })
    }

    /// Where the value of `entry` is; None when it points outside the data.
    fn value(&self, entry: &Entry) -> Option<Value> {
        let unit: usize = match entry.kind {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 => 8,
            _ => return Some(Value::UnknownType),
        };
        let size = usize::try_from(entry.count).ok()?.checked_mul(unit)?;
        if size <= 4 {
            return Some(Value::Inline);
        }
        let start = self.offset_at(entry.value_at()?)?;
        let end = start.checked_add(size)?;
        (end <= self.data.len()).then_some(Value::At(start..end))
    }
}

/// A write into an EXIF block: `bytes` replace those at `at`.
struct Patch {
    at: usize,
    bytes: Vec<u8>,
}

/// What an EXIF block holds in the way of location.
enum Location {
    /// No GPS data a reader could find.
    Absent,
    /// GPS data, and the writes (offsets in the block) that remove it.
    Removable(Vec<Patch>),
    /// A GPS IFD is referenced but the structure is too broken, or too
    /// tangled, to remove it without risking the rest.
    Stuck,
}

/// `block` is an EXIF TIFF structure, with or without the "Exif\0\0"
/// prefix that APP1 uses and some PNG and WebP writers copy.
fn exif_has_gps(block: &[u8]) -> bool {
    !matches!(examine_exif(block), Location::Absent)
}

fn examine_exif(block: &[u8]) -> Location {
    let block = block.strip_prefix(b"Exif\0\0").unwrap_or(block);
    // Without a TIFF header no reader can find anything in the block.
    let Some(tiff) = Tiff::new(block) else {
        return Location::Absent;
    };
    plan_gps_removal(tiff).unwrap_or(Location::Stuck)
}

/// Plans the removal of the GPS IFD(s) that IFD0 points to; None when the
/// structure is too broken to tell or to change safely.
fn plan_gps_removal(tiff: Tiff<'_>) -> Option<Location> {
    let ifd0 = tiff.ifd(tiff.offset_at(4)?)?;
    // The rewritten IFD0 keeps its next-IFD offset (IFD1, the thumbnail).
    let next_at = ifd0.end;
    let next = tiff.data.get(next_at..next_at.checked_add(4)?)?;
    let entries: Vec<Entry> = tiff.entries(ifd0).collect();
    let pointers: Vec<&Entry> = entries.iter().filter(|e| e.tag == TAG_GPS).collect();
    if pointers.is_empty() {
        return Some(Location::Absent);
    }
    let mut gps_ranges = Vec::new();
    let mut has_entries = false;
    for pointer in pointers {
        if !matches!(pointer.kind, LONG | IFD) || pointer.count != 1 {
            return None;
        }
        let gps = tiff.ifd(tiff.offset_at(pointer.value_at()?)?)?;
        has_entries |= gps.count > 0;
        // Zeroing the table also sets the count to 0, and leaves a zero
        // next-IFD offset where a reader of the empty IFD looks for it.
        gps_ranges.push(tiff.ifd_range(gps));
        for entry in tiff.entries(gps) {
            match tiff.value(&entry)? {
                Value::At(range) => gps_ranges.push(range),
                // Inline values go with the table. A value of unknown type
                // cannot be located; once its entry is gone no reader can
                // find or interpret it either.
                Value::Inline | Value::UnknownType => {}
            }
        }
    }
    if !has_entries {
        return Some(Location::Absent);
    }
    // A GPS value sharing bytes with the rest of the EXIF (a crafted or
    // buggy file) would take orientation or camera data with it.
    let protected = protected_ranges(tiff, ifd0)?;
    let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
    if gps_ranges
        .iter()
        .any(|g| protected.iter().any(|p| overlaps(g, p)))
    {
        return None;
    }
    let mut patches: Vec<Patch> = gps_ranges
        .into_iter()
        .map(|range| Patch {
            at: range.start,
            bytes: vec![0; range.len()],
        })
        .collect();
    // IFD0 without the GPS pointer: same place, same size, later entries
    // moved up, the freed slot at the end zeroed.
    let kept: Vec<&Entry> = entries.iter().filter(|e| e.tag != TAG_GPS).collect();
    let mut table = Vec::with_capacity(next_at.checked_add(4)?.checked_sub(ifd0.at)?);
    table.extend_from_slice(&tiff.u16_bytes(u16::try_from(kept.len()).ok()?));
    for entry in kept {
        table.extend_from_slice(tiff.data.get(entry.at..entry.at.checked_add(12)?)?);
    }
    table.extend_from_slice(next);
    table.resize(next_at.checked_add(4)?.checked_sub(ifd0.at)?, 0);
    patches.push(Patch {
        at: ifd0.at,
        bytes: table,
    });
    Some(Location::Removable(patches))
}

/// The bytes the rest of the EXIF uses: header, IFD tables and their
/// values (IFD0, its chain, Exif and Interoperability IFDs) and the
/// thumbnail. None when there are more IFDs than any real file has.
fn protected_ranges(tiff: Tiff<'_>, ifd0: Ifd) -> Option<Vec<Range<usize>>> {
    // The TIFF header: byte order, magic number, IFD0 offset.
    let header: Range<usize> = 0..8;
    let mut ranges = vec![header];
    let mut queue = vec![ifd0.at];
    // Offsets already walked: a cycle (an IFD pointing back to an earlier
    // one) is walked once.
    let mut seen = Vec::new();
    while let Some(at) = queue.pop() {
        if seen.contains(&at) {
            continue;
        }
        if seen.len() >= MAX_IFDS {
            return None;
        }
        seen.push(at);
        let Some(ifd) = tiff.ifd(at) else {
            // An IFD no reader can read holds nothing to protect.
            continue;
        };
        ranges.push(tiff.ifd_range(ifd));
        let mut thumbnail = (None, None);
        for entry in tiff.entries(ifd) {
            // GPS IFDs are what gets removed, not protected.
            if entry.tag == TAG_GPS {
                continue;
            }
            if let Some(Value::At(range)) = tiff.value(&entry) {
                ranges.push(range);
            }
            let pointer = entry.value_at().and_then(|at| tiff.offset_at(at));
            match entry.tag {
                TAG_EXIF | TAG_INTEROP if entry.count == 1 => queue.extend(pointer),
                TAG_THUMBNAIL_OFFSET => thumbnail.0 = pointer,
                TAG_THUMBNAIL_LENGTH => thumbnail.1 = pointer,
                _ => {}
            }
        }
        if let (Some(start), Some(len)) = thumbnail {
            ranges.push(start..start.saturating_add(len).min(tiff.data.len()));
        }
        match tiff.offset_at(ifd.end) {
            Some(0) | None => {}
            Some(next) => queue.push(next),
        }
    }
    Some(ranges)
}

// --- Byte reading ---------------------------------------------------------

fn bytes<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    bytes(data, at).map(u16::from_be_bytes)
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    bytes(data, at).map(u32::from_be_bytes)
}

fn be64(data: &[u8], at: usize) -> Option<u64> {
    bytes(data, at).map(u64::from_be_bytes)
}

fn le16(data: &[u8], at: usize) -> Option<u16> {
    bytes(data, at).map(u16::from_le_bytes)
}

fn le24(data: &[u8], at: usize) -> Option<u32> {
    let [a, b, c] = bytes::<3>(data, at)?;
    Some(u32::from_le_bytes([a, b, c, 0]))
}

fn le32(data: &[u8], at: usize) -> Option<u32> {
    bytes(data, at).map(u32::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/images/",
                $name
            ))
            .unwrap()
        };
    }

    // --- A reader of our own, so the assertions do not trust the code
    // --- under test.

    /// The first APP1 Exif segment of a JPEG: (segment start, TIFF start,
    /// segment end).
    fn app1_exif(jpeg: &[u8]) -> (usize, usize, usize) {
        let mut pos = 2;
        loop {
            assert_eq!(jpeg[pos], 0xFF, "marker expected at {pos}");
            let marker = jpeg[pos + 1];
            let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
            if marker == 0xE1 && &jpeg[pos + 4..pos + 10] == b"Exif\0\0" {
                return (pos, pos + 10, pos + 2 + len);
            }
            assert_ne!(marker, 0xDA, "no EXIF before the scan");
            pos += 2 + len;
        }
    }

    fn rd16(t: &[u8], at: usize) -> u16 {
        let b = [t[at], t[at + 1]];
        if t.starts_with(b"MM") {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn rd32(t: &[u8], at: usize) -> u32 {
        let b = [t[at], t[at + 1], t[at + 2], t[at + 3]];
        if t.starts_with(b"MM") {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn wr32(t: &mut [u8], at: usize, value: u32) {
        let b = if t.starts_with(b"MM") {
            value.to_be_bytes()
        } else {
            value.to_le_bytes()
        };
        t[at..at + 4].copy_from_slice(&b);
    }

    /// (tag, type, count, offset of the entry) of the IFD at `at`.
    fn entries(t: &[u8], at: usize) -> Vec<(u16, u16, u32, usize)> {
        let count = usize::from(rd16(t, at));
        (0..count)
            .map(|i| {
                let e = at + 2 + 12 * i;
                (rd16(t, e), rd16(t, e + 2), rd32(t, e + 4), e)
            })
            .collect()
    }

    fn entry(t: &[u8], ifd: usize, tag: u16) -> Option<(u16, u32, usize)> {
        entries(t, ifd)
            .into_iter()
            .find(|e| e.0 == tag)
            .map(|(_, kind, count, at)| (kind, count, at))
    }

    fn ifd0(t: &[u8]) -> usize {
        rd32(t, 4) as usize
    }

    /// The 24 bytes of the latitude 12/1 40/1 4800/100 in the block's order.
    fn latitude_bytes(big_endian: bool) -> Vec<u8> {
        [12u32, 1, 40, 1, 4800, 100]
            .iter()
            .flat_map(|v| {
                if big_endian {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            })
            .collect()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// (type, chunk start, chunk end) of every PNG chunk; asserts the
    /// structure and every CRC.
    fn png_chunks_checked(png: &[u8]) -> Vec<([u8; 4], usize, usize)> {
        assert!(png.starts_with(PNG_SIGNATURE));
        let mut pos = 8;
        let mut chunks = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = png[pos + 4..pos + 8].try_into().unwrap();
            let crc_at = pos + 8 + len;
            let crc = u32::from_be_bytes(png[crc_at..crc_at + 4].try_into().unwrap());
            assert_eq!(
                crc32(&png[pos + 4..crc_at]),
                crc,
                "CRC of {}",
                String::from_utf8_lossy(&kind)
            );
            chunks.push((kind, pos, crc_at + 4));
            pos = crc_at + 4;
        }
        assert_eq!(pos, png.len());
        chunks
    }

    /// (fourcc, chunk start, chunk end) of every WebP chunk.
    fn riff_chunks(webp: &[u8]) -> Vec<([u8; 4], usize, usize)> {
        let mut pos = 12;
        let mut chunks = Vec::new();
        while pos < webp.len() {
            let kind: [u8; 4] = webp[pos..pos + 4].try_into().unwrap();
            let len = u32::from_le_bytes(webp[pos + 4..pos + 8].try_into().unwrap()) as usize;
            let end = pos + 8 + len + (len & 1);
            chunks.push((kind, pos, end));
            pos = end;
        }
        assert_eq!(pos, webp.len());
        chunks
    }

    // --- Types and sizes

    #[test]
    fn fixtures_are_typed_by_content() {
        assert_eq!(sniff(&fixture!("gps.jpg")), Some(ImageType::Jpeg));
        assert_eq!(sniff(&fixture!("gps-be.jpg")), Some(ImageType::Jpeg));
        assert_eq!(sniff(&fixture!("plain.jpg")), Some(ImageType::Jpeg));
        assert_eq!(sniff(&fixture!("gps.png")), Some(ImageType::Png));
        assert_eq!(sniff(&fixture!("gps.webp")), Some(ImageType::Webp));
        assert_eq!(sniff(&fixture!("gps.heic")), Some(ImageType::Heic));
        assert_eq!(sniff(&fixture!("heic-header.heic")), Some(ImageType::Heic));
        assert_eq!(sniff(&fixture!("fake.jpg")), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"BMW annual report, not a bitmap"), None);
    }

    #[test]
    fn fixture_dimensions() {
        for data in [
            fixture!("gps.jpg"),
            fixture!("gps-be.jpg"),
            fixture!("plain.jpg"),
            fixture!("gps.png"),
            fixture!("gps.webp"),
            fixture!("gps.heic"),
        ] {
            assert_eq!(dimensions(&data), Some((64, 48)));
        }
        assert_eq!(dimensions(&fixture!("heic-header.heic")), Some((640, 480)));
        assert_eq!(dimensions(&fixture!("fake.jpg")), None);
    }

    #[test]
    fn other_formats_by_hand() {
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&[0x40, 0x01, 0xF0, 0x00]);
        assert_eq!(sniff(&gif), Some(ImageType::Gif));
        assert_eq!(dimensions(&gif), Some((320, 240)));

        // 14-byte file header, 40-byte BITMAPINFOHEADER, top-down rows.
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0; 8]);
        bmp.extend_from_slice(&54u32.to_le_bytes());
        bmp.extend_from_slice(&40u32.to_le_bytes());
        bmp.extend_from_slice(&100i32.to_le_bytes());
        bmp.extend_from_slice(&(-30i32).to_le_bytes());
        bmp.extend_from_slice(&[0; 28]);
        assert_eq!(sniff(&bmp), Some(ImageType::Bmp));
        assert_eq!(dimensions(&bmp), Some((100, 30)));

        // IFD0 with ImageWidth (SHORT) and ImageLength (LONG).
        let mut tiff = b"II*\0\x08\0\0\0\x02\0".to_vec();
        tiff.extend_from_slice(&[0x00, 0x01, 3, 0, 1, 0, 0, 0, 64, 0, 0, 0]);
        tiff.extend_from_slice(&[0x01, 0x01, 4, 0, 1, 0, 0, 0, 48, 0, 0, 0]);
        tiff.extend_from_slice(&[0; 4]);
        assert_eq!(sniff(&tiff), Some(ImageType::Tiff));
        assert_eq!(dimensions(&tiff), Some((64, 48)));
        assert!(!has_gps(&tiff));

        // Lossless WebP: 14 bits of width - 1, 14 of height - 1.
        let bits: u32 = 99 | (49 << 14);
        let mut vp8l = b"RIFF\x12\0\0\0WEBPVP8L\x05\0\0\0\x2f".to_vec();
        vp8l.extend_from_slice(&bits.to_le_bytes());
        vp8l.push(0);
        assert_eq!(sniff(&vp8l), Some(ImageType::Webp));
        assert_eq!(dimensions(&vp8l), Some((100, 50)));

        // Lossy WebP in the simple format: the VP8 chunk of gps.webp alone.
        let webp = fixture!("gps.webp");
        let (_, start, end) = riff_chunks(&webp)
            .into_iter()
            .find(|c| &c.0 == b"VP8 ")
            .unwrap();
        let mut simple = b"RIFF".to_vec();
        simple.extend_from_slice(&u32::try_from(4 + end - start).unwrap().to_le_bytes());
        simple.extend_from_slice(b"WEBP");
        simple.extend_from_slice(&webp[start..end]);
        assert_eq!(dimensions(&simple), Some((64, 48)));
    }

    #[test]
    fn mime_and_extension() {
        assert_eq!(ImageType::Jpeg.mime(), "image/jpeg");
        assert_eq!(ImageType::Heic.extension(), "heic");
        for kind in [
            ImageType::Jpeg,
            ImageType::Png,
            ImageType::Gif,
            ImageType::Webp,
            ImageType::Heic,
            ImageType::Tiff,
        ] {
            assert_eq!(
                crate::content::names::extension_for(kind.mime()),
                kind.extension()
            );
        }
        assert_eq!(ImageType::Bmp.mime(), "image/bmp");
    }

    // --- JPEG

    fn assert_jpeg_cleaned(original: &[u8]) {
        let (segment, tiff_at, segment_end) = app1_exif(original);
        let big_endian = original[tiff_at..].starts_with(b"MM");
        let latitude = latitude_bytes(big_endian);
        assert!(has_gps(original));
        assert!(contains(original, &latitude), "fixture holds the latitude");

        let cleaned = strip_gps(original);
        assert!(cleaned.removed_gps);
        let out = &cleaned.data[..];
        assert!(!has_gps(out));
        assert_eq!(out.len(), original.len());
        assert!(out.starts_with(&[0xFF, 0xD8]));
        assert!(out.ends_with(&[0xFF, 0xD9]));
        assert!(!contains(out, &latitude), "latitude values are gone");
        // Only the EXIF segment's payload changed.
        assert_eq!(out[..tiff_at], original[..tiff_at]);
        assert_eq!(out[segment_end..], original[segment_end..]);
        assert_eq!(app1_exif(out), (segment, tiff_at, segment_end));

        let t = &out[tiff_at..segment_end];
        let ifd = ifd0(t);
        assert_eq!(entry(t, ifd, 0x8825), None, "GPS pointer removed");
        let tags: Vec<u16> = entries(t, ifd).iter().map(|e| e.0).collect();
        assert_eq!(tags, [0x010F, 0x0110, 0x0112, 0x8769], "still sorted");
        let (kind, count, at) = entry(t, ifd, 0x0112).unwrap();
        assert_eq!(
            (kind, count, rd16(t, at + 8)),
            (3, 1, 6),
            "orientation kept"
        );
        let (_, count, at) = entry(t, ifd, 0x010F).unwrap();
        let make = rd32(t, at + 8) as usize;
        assert_eq!(&t[make..make + count as usize], b"Samsung\0");
        let (_, _, at) = entry(t, ifd, 0x8769).unwrap();
        let exif = rd32(t, at + 8) as usize;
        let (_, count, at) = entry(t, exif, 0x9003).unwrap();
        let date = rd32(t, at + 8) as usize;
        assert_eq!(&t[date..date + count as usize], b"2024:03:15 09:30:00\0");

        // The old GPS IFD: count 0 and nothing left in its table.
        let (_, _, at) = entry(&original[tiff_at..segment_end], ifd, 0x8825).unwrap();
        let gps = rd32(&original[tiff_at..segment_end], at + 8) as usize;
        assert_eq!(rd16(t, gps), 0);
        assert!(t[gps..gps + 2 + 7 * 12 + 4].iter().all(|&b| b == 0));
    }

    #[test]
    fn gps_is_removed_from_little_endian_exif() {
        assert_jpeg_cleaned(&fixture!("gps.jpg"));
    }

    #[test]
    fn gps_is_removed_from_big_endian_exif() {
        assert_jpeg_cleaned(&fixture!("gps-be.jpg"));
    }

    #[test]
    fn cleaning_is_idempotent() {
        let once = strip_gps(&fixture!("gps.jpg")).data.into_owned();
        let twice = strip_gps(&once);
        assert!(!twice.removed_gps);
        assert!(matches!(twice.data, Cow::Borrowed(_)));
    }

    #[test]
    fn plain_jpeg_is_returned_as_it_is() {
        let plain = fixture!("plain.jpg");
        assert!(!has_gps(&plain));
        let cleaned = strip_gps(&plain);
        assert!(!cleaned.removed_gps);
        assert!(matches!(cleaned.data, Cow::Borrowed(_)));
        assert_eq!(cleaned.data, plain.as_slice());
    }

    #[test]
    fn every_image_of_a_multi_picture_file_is_cleaned() {
        // MPF stores the secondary images right after the first one's EOI.
        let one = fixture!("gps.jpg");
        let mut two = one.clone();
        two.extend_from_slice(&one);
        let cleaned = strip_gps(&two);
        assert!(cleaned.removed_gps);
        assert!(!has_gps(&cleaned.data));
        assert_eq!(cleaned.data.len(), two.len());
        assert!(!contains(&cleaned.data, &latitude_bytes(false)));

        // GPS only in the second image is found too.
        let mut hidden = fixture!("plain.jpg");
        hidden.extend_from_slice(&one);
        assert!(has_gps(&hidden));
        assert!(strip_gps(&hidden).removed_gps);
    }

    #[test]
    fn gps_value_overlapping_other_exif_is_left_alone() {
        // The latitude's value offset pointed at IFD0: zeroing it would
        // wipe the orientation, so nothing changes and has_gps says so.
        let mut data = fixture!("gps.jpg");
        let (_, tiff_at, end) = app1_exif(&data);
        let t = &mut data[tiff_at..end];
        let (_, _, at) = entry(t, ifd0(t), 0x8825).unwrap();
        let gps = rd32(t, at + 8) as usize;
        let (_, _, latitude) = entry(t, gps, 0x0002).unwrap();
        wr32(t, latitude + 8, rd32(t, 4));
        let cleaned = strip_gps(&data);
        assert!(!cleaned.removed_gps);
        assert_eq!(cleaned.data, data.as_slice());
        assert!(has_gps(&data));
    }

    #[test]
    fn gps_value_outside_the_block_is_left_alone() {
        let mut data = fixture!("gps.jpg");
        let (_, tiff_at, end) = app1_exif(&data);
        let t = &mut data[tiff_at..end];
        let (_, _, at) = entry(t, ifd0(t), 0x8825).unwrap();
        let gps = rd32(t, at + 8) as usize;
        let (_, _, altitude) = entry(t, gps, 0x0006).unwrap();
        wr32(t, altitude + 8, 0xFFFF_FFF0);
        let cleaned = strip_gps(&data);
        assert!(!cleaned.removed_gps);
        assert!(has_gps(&data));
    }

    #[test]
    fn ifd_cycles_end() {
        // IFD0's next-IFD offset points to IFD0, the Exif IFD's to itself.
        let mut data = fixture!("gps.jpg");
        let (_, tiff_at, end) = app1_exif(&data);
        let t = &mut data[tiff_at..end];
        let ifd = ifd0(t);
        let next_at = ifd + 2 + 12 * usize::from(rd16(t, ifd));
        wr32(t, next_at, ifd as u32);
        let (_, _, at) = entry(t, ifd, 0x8769).unwrap();
        let exif = rd32(t, at + 8) as usize;
        let exif_next = exif + 2 + 12 * usize::from(rd16(t, exif));
        wr32(t, exif_next, exif as u32);
        let cleaned = strip_gps(&data);
        assert!(cleaned.removed_gps);
        assert!(!has_gps(&cleaned.data));
    }

    // --- PNG and WebP

    #[test]
    fn png_exif_chunk_is_dropped() {
        let png = fixture!("gps.png");
        assert!(has_gps(&png));
        let before = png_chunks_checked(&png);
        assert!(before.iter().any(|c| &c.0 == b"eXIf"));

        let cleaned = strip_gps(&png);
        assert!(cleaned.removed_gps);
        assert!(!has_gps(&cleaned.data));
        let after = png_chunks_checked(&cleaned.data);
        let kinds = |chunks: &[([u8; 4], usize, usize)]| -> Vec<[u8; 4]> {
            chunks.iter().map(|c| c.0).collect()
        };
        let mut expected = kinds(&before);
        expected.retain(|k| k != b"eXIf");
        assert_eq!(kinds(&after), expected);
        assert_eq!(&after[0].0, b"IHDR");
        assert_eq!(&after.last().unwrap().0, b"IEND");
        assert_eq!(dimensions(&cleaned.data), Some((64, 48)));
        assert!(!contains(&cleaned.data, &latitude_bytes(false)));
    }

    #[test]
    fn webp_exif_chunk_is_dropped() {
        let webp = fixture!("gps.webp");
        assert!(has_gps(&webp));
        let before = riff_chunks(&webp);
        assert_eq!(webp[20] & 0x08, 0x08, "fixture declares EXIF in VP8X");

        let cleaned = strip_gps(&webp);
        assert!(cleaned.removed_gps);
        let out = &cleaned.data[..];
        assert!(!has_gps(out));
        let size = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(size, out.len() - 8);
        let after = riff_chunks(out);
        assert_eq!(&after[0].0, b"VP8X");
        assert_eq!(out[20] & 0x08, 0, "EXIF flag cleared");
        assert_eq!(out[20] | 0x08, webp[20], "other flags kept");
        assert!(after.iter().all(|c| &c.0 != b"EXIF"));
        let image = |data: &[u8], chunks: &[([u8; 4], usize, usize)]| {
            let c = chunks.iter().find(|c| &c.0 == b"VP8 ").unwrap();
            data[c.1..c.2].to_vec()
        };
        assert_eq!(image(out, &after), image(&webp, &before));
        assert_eq!(dimensions(out), Some((64, 48)));
        assert!(!contains(out, &latitude_bytes(false)));
    }

    // --- Types left alone

    #[test]
    fn heic_gps_is_reported_not_changed() {
        let heic = fixture!("gps.heic");
        assert!(has_gps(&heic));
        let cleaned = strip_gps(&heic);
        assert!(!cleaned.removed_gps);
        assert_eq!(cleaned.data, heic.as_slice());
        assert!(!has_gps(&fixture!("heic-header.heic")));
    }

    #[test]
    fn non_images_are_left_alone() {
        let fake = fixture!("fake.jpg");
        assert!(!has_gps(&fake));
        let cleaned = strip_gps(&fake);
        assert!(!cleaned.removed_gps);
        assert_eq!(cleaned.data, fake.as_slice());
    }

    #[test]
    fn a_tiff_file_with_gps_is_reported() {
        let jpeg = fixture!("gps.jpg");
        let (_, tiff_at, end) = app1_exif(&jpeg);
        let tiff = &jpeg[tiff_at..end];
        assert_eq!(sniff(tiff), Some(ImageType::Tiff));
        assert!(has_gps(tiff));
        assert!(!strip_gps(tiff).removed_gps);
    }

    // --- Robustness

    /// Runs everything on `data`; what must hold whatever the input.
    fn exercise(data: &[u8]) {
        let kind = sniff(data);
        let _ = dimensions(data);
        let _ = has_gps(data);
        let cleaned = strip_gps(data);
        if cleaned.removed_gps {
            assert!(!has_gps(&cleaned.data), "removed but still there");
            if kind == Some(ImageType::Jpeg) {
                assert_eq!(cleaned.data.len(), data.len());
            }
        } else {
            assert_eq!(cleaned.data, data);
        }
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn every_truncation_is_survived() {
        for data in [
            fixture!("gps.jpg"),
            fixture!("gps-be.jpg"),
            fixture!("gps.png"),
            fixture!("gps.webp"),
            fixture!("gps.heic"),
            fixture!("heic-header.heic"),
        ] {
            for len in 0..=data.len() {
                exercise(&data[..len]);
            }
        }
    }

    #[test]
    fn corrupted_exif_is_survived() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut removed = 0;
        for data in [fixture!("gps.jpg"), fixture!("gps-be.jpg")] {
            let (segment, _, end) = app1_exif(&data);
            for round in 0..4000 {
                let mut bad = data.clone();
                // Mostly one byte, sometimes a few, to reach deeper states.
                let flips = if round % 4 == 0 { 1 + rng.below(4) } else { 1 };
                for _ in 0..flips {
                    let at = segment + rng.below(end - segment);
                    bad[at] ^= (rng.next() as u8) | 1;
                }
                exercise(&bad);
                removed += usize::from(strip_gps(&bad).removed_gps);
            }
        }
        // Most corruptions miss the GPS structure; cleaning must go on.
        assert!(removed > 4000, "only {removed} corrupted files cleaned");
    }

    #[test]
    fn corrupted_containers_are_survived() {
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for data in [
            fixture!("gps.png"),
            fixture!("gps.webp"),
            fixture!("gps.heic"),
        ] {
            for _ in 0..2000 {
                let mut bad = data.clone();
                let at = rng.below(bad.len());
                bad[at] ^= (rng.next() as u8) | 1;
                exercise(&bad);
            }
        }
    }
}
