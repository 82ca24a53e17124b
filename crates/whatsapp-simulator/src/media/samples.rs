//! Small valid files generated in code, for injected inbound media: a PNG image, an
//! OGG/Opus voice note (silence), a PDF document, and an MP4 container (filler media data,
//! for size and throughput only). Each can be grown to a requested size.

use serde::{Deserialize, Serialize};

/// What kind of sample to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleKind {
    /// `image/png`, sent as WhatsApp `image`.
    Image,
    /// `audio/ogg; codecs=opus`, sent as WhatsApp `audio` with `voice: true`.
    Voice,
    /// `application/pdf`, sent as WhatsApp `document`.
    Document,
    /// `video/mp4`, sent as WhatsApp `video`.
    Video,
}

impl SampleKind {
    /// The WhatsApp message `type`.
    pub fn whatsapp_type(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Voice => "audio",
            Self::Document => "document",
            Self::Video => "video",
        }
    }

    /// The MIME type Meta reports.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Image => "image/png",
            Self::Voice => "audio/ogg; codecs=opus",
            Self::Document => "application/pdf",
            Self::Video => "video/mp4",
        }
    }

    /// A file of this kind, about `size` bytes (at least the smallest valid file).
    pub fn generate(self, size: Option<usize>) -> Vec<u8> {
        match self {
            Self::Image => png(size.unwrap_or(2_000)),
            Self::Voice => ogg_opus(size.unwrap_or(1_000)),
            Self::Document => pdf(size.unwrap_or(0)),
            Self::Video => mp4(size.unwrap_or(10_000)),
        }
    }
}

// CRC-32 (ISO-HDLC, reflected), as PNG chunks use it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
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

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// An RGB gradient PNG of about `size` bytes (uncompressed deflate blocks).
fn png(size: usize) -> Vec<u8> {
    let side = (((size / 3) as f64).sqrt() as u32).max(2);
    let (w, h) = (side, side);
    let mut raw = Vec::with_capacity((w * 3 + 1) as usize * h as usize);
    for y in 0..h {
        raw.push(0); // filter: none
        for x in 0..w {
            raw.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 128]);
        }
    }
    // zlib: header, stored blocks of at most 65,535 bytes, Adler-32.
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &z);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

// CRC-32 as Ogg pages use it (polynomial 0x04C11DB7, not reflected, no final xor).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn ogg_page(out: &mut Vec<u8>, flags: u8, granule: u64, seq: u32, packets: &[&[u8]]) {
    let start = out.len();
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&0x4348_4154u32.to_le_bytes()); // stream serial
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // CRC, filled below
    let mut lacing = Vec::new();
    for p in packets {
        let mut n = p.len();
        while n >= 255 {
            lacing.push(255);
            n -= 255;
        }
        lacing.push(n as u8);
    }
    out.push(lacing.len() as u8);
    out.extend_from_slice(&lacing);
    for p in packets {
        out.extend_from_slice(p);
    }
    let crc = ogg_crc(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// A mono Opus voice note of silent 20 ms frames, about `size` bytes.
fn ogg_opus(size: usize) -> Vec<u8> {
    const PRE_SKIP: u16 = 312;
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0u16.to_le_bytes()); // output gain
    head.push(0); // mapping family
    let vendor = b"chatcentralize-simulator";
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    let mut out = Vec::new();
    ogg_page(&mut out, 0x02, 0, 0, &[&head]);
    ogg_page(&mut out, 0x00, 0, 1, &[&tags]);
    // CELT fullband 20 ms, one frame: a silent frame.
    let frame: &[u8] = &[0xF8, 0xFF, 0xFE];
    let frames_total = (size.saturating_sub(out.len()) / 4).max(50);
    let mut written = 0usize;
    let mut seq = 2;
    while written < frames_total {
        let n = (frames_total - written).min(200);
        written += n;
        let granule = u64::from(PRE_SKIP) + written as u64 * 960;
        let flags = if written == frames_total { 0x04 } else { 0x00 };
        let packets: Vec<&[u8]> = std::iter::repeat_n(frame, n).collect();
        ogg_page(&mut out, flags, granule, seq, &packets);
        seq += 1;
    }
    out
}

/// A one-page PDF saying it is a sample, padded with a comment to about `size` bytes.
fn pdf(size: usize) -> Vec<u8> {
    let text = b"BT /F1 18 Tf 72 720 Td (Factura de ejemplo) Tj ET";
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        [format!("<< /Length {} >>\nstream\n", text.len()).as_bytes(), text, b"\nendstream"].concat(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let padding = size.saturating_sub(600);
    for line in 0..padding / 64 {
        let _ = line;
        out.extend_from_slice(&[b'%'; 63]);
        out.push(b'\n');
    }
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// An MP4 `ftyp` box and an `mdat` box of filler bytes: the size and type of a video,
/// not a playable one (for transfer and storage benchmarks).
fn mp4(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size.max(32));
    out.extend_from_slice(&24u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom");
    out.extend_from_slice(&0x200u32.to_be_bytes());
    out.extend_from_slice(b"isommp41");
    let data = size.saturating_sub(out.len() + 8).max(8);
    out.extend_from_slice(&((data + 8) as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend((0..data).map(|i| (i % 251) as u8));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(ogg_crc(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn a_png_starts_with_its_signature_and_ends_with_iend_and_has_about_the_size_asked() {
        let p = png(200_000);
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&p[p.len() - 8..p.len() - 4], b"IEND");
        assert!(p.len() > 190_000 && p.len() < 210_000, "{}", p.len());
    }

    #[test]
    fn an_ogg_voice_note_has_opus_head_and_tags_pages_and_an_end_of_stream_page() {
        let o = ogg_opus(5_000);
        assert_eq!(&o[..4], b"OggS");
        assert_eq!(&o[28..36], b"OpusHead");
        let last_page = o.windows(4).rposition(|w| w == b"OggS").unwrap();
        assert_eq!(o[last_page + 5], 0x04, "the last page ends the stream");
        assert!(o.len() > 4_000, "{}", o.len());
    }

    #[test]
    fn a_pdf_has_its_header_xref_and_end_marker() {
        let d = pdf(0);
        assert!(d.starts_with(b"%PDF-1.4\n"));
        assert!(d.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&d);
        let xref: usize = text
            .split("startxref\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(text[xref..].starts_with("xref"));
    }

    #[test]
    fn a_video_has_the_size_asked() {
        assert_eq!(mp4(5_000_000).len(), 5_000_000);
    }
}
