//! The content type of an upload, from its first bytes (magic numbers), never from the
//! client's claim. A small table rather than a crate: what an upload may be depends on what it
//! is for ([`Accept`]): scans and phone photos (five formats) or call recordings (MP3, WAV,
//! Ogg, M4A); everything else is refused.

/// The family of formats an upload may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Scans and photos of documents: JPEG, PNG, WebP, HEIC, PDF.
    Scans,
    /// Call recordings: MP3, WAV, Ogg, M4A/MP4 audio.
    Audio,
}

/// The accepted type of `head` for `accept`, or `None`.
pub fn sniff_as(accept: Accept, head: &[u8]) -> Option<&'static str> {
    match accept {
        Accept::Scans => sniff(head),
        Accept::Audio => sniff_audio(head),
    }
}

/// A call recording's type: MP3 (an ID3 tag or an MPEG audio frame sync), WAV (`RIFF…WAVE`),
/// Ogg (`OggS`), M4A/MP4 (`ftyp` with an audio or generic ISO brand).
pub fn sniff_audio(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"ID3") {
        return Some("audio/mpeg");
    }
    // MPEG audio frame: 11 set sync bits, a valid version (not 01), layer (not 00) and
    // bitrate index (not 1111).
    if head.len() >= 3
        && head[0] == 0xFF
        && head[1] & 0xE0 == 0xE0
        && head[1] & 0x18 != 0x08
        && head[1] & 0x06 != 0
        && head[2] & 0xF0 != 0xF0
    {
        return Some("audio/mpeg");
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return Some("audio/wav");
    }
    if head.starts_with(b"OggS") {
        return Some("audio/ogg");
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        if [
            b"M4A ", b"M4B ", b"mp42", b"mp41", b"isom", b"iso2", b"3gp4", b"3gp5",
        ]
        .iter()
        .any(|b| brand == *b)
        {
            return Some("audio/mp4");
        }
    }
    None
}

/// Bytes needed to tell the accepted formats apart.
pub const NEEDED: usize = 16;

/// The accepted type of `head` (the first bytes), or `None`.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if head.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    // ISO base media: `....ftyp<brand>`; the HEIF brands of phone cameras.
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        if [
            b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
        ]
        .iter()
        .any(|b| brand == *b)
        {
            return Some("image/heic");
        }
    }
    None
}

/// The file-name extension of an accepted type.
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        "audio/mpeg" => "mp3",
        "audio/wav" => "wav",
        "audio/ogg" => "ogg",
        "audio/mp4" => "m4a",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7\n%\xE2\xE3"), Some("application/pdf"));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), Some("image/heic"));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"),
            None,
            "a video is not a scan"
        );
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn recordings_come_from_the_bytes() {
        let a = |h: &[u8]| sniff_as(Accept::Audio, h);
        assert_eq!(a(b"ID3\x04\0\0\0\0\0\x21TIT2\0\0"), Some("audio/mpeg"));
        assert_eq!(a(b"\xFF\xFB\x90\x64\0\0\0\0"), Some("audio/mpeg"));
        assert_eq!(a(b"\xFF\xE8\x90\x64"), None, "reserved MPEG version");
        assert_eq!(a(b"RIFF\x24\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(a(b"OggS\0\x02\0\0\0\0\0\0"), Some("audio/ogg"));
        assert_eq!(a(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some("audio/mp4"));
        assert_eq!(
            a(b"RIFF\x10\0\0\0WEBPVP8 "),
            None,
            "a photo is not a recording"
        );
        assert_eq!(a(b"%PDF-1.7\n"), None);
        assert_eq!(
            a(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0"),
            None,
            "a JPEG is not an MP3"
        );
        assert_eq!(sniff_as(Accept::Scans, b"RIFF\x24\0\0\0WAVEfmt "), None);
        assert_eq!(extension("audio/wav"), "wav");
    }
}
