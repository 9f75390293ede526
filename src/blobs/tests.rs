#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use super::*;

fn store() -> (tempfile::TempDir, Blobs) {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = crate::crypto::keyfile::load_or_create(&dir.path().join("k")).unwrap();
    let blobs = Blobs::new(dir.path(), BlobKeys::new(&key), 10 * 1024 * 1024);
    (dir, blobs)
}

/// A PNG header followed by `n` bytes of a counting pattern.
fn png(n: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend((0..n).map(|i| (i % 251) as u8));
    v
}

fn put(b: &Blobs, data: &[u8], piece: usize) -> Staged {
    let mut w = b.writer().unwrap();
    for p in data.chunks(piece) {
        w.write(p).unwrap();
    }
    let s = w.finish().unwrap();
    b.place(&s, false).unwrap();
    s
}

#[test]
fn round_trip_ranges_and_content_addressing() {
    let (_d, b) = store();
    for len in [1, CHUNK - 17, CHUNK - 16, CHUNK, 3 * CHUNK + 5] {
        let data = png(len);
        let s = put(&b, &data, 7000);
        assert_eq!(s.size, data.len() as u64);
        assert_eq!(s.content_type, "image/png");
        let mut r = b.open(&s.id, s.size, &s.wrapped_key).unwrap();
        assert_eq!(r.read_all().unwrap(), data, "len {len}");
        let size = data.len() as u64;
        for (a, z) in [(0, 0), (0, 9), (size / 2, size - 1), (size - 1, size - 1)] {
            let mut got = Vec::new();
            r.read_range(a, z, |p| {
                got.extend_from_slice(p);
                true
            })
            .unwrap();
            assert_eq!(got, data[a as usize..=z as usize], "{a}-{z} of {len}");
        }
    }
    // Same content → same id (a different key each time, though).
    let one = put(&b, &png(100), 10);
    let mut w = b.writer().unwrap();
    w.write(&png(100)).unwrap();
    let two = w.finish().unwrap();
    assert_eq!(one.id, two.id);
    assert_ne!(one.wrapped_key, two.wrapped_key);
    assert_ne!(one.id, crate::crypto::sha256_hex(&png(100)), "keyed name");
    b.place(&two, true).unwrap();
    assert!(
        b.tmp_dir().read_dir().unwrap().next().is_none(),
        "tmp emptied"
    );
}

#[test]
fn no_plaintext_on_disk_and_tampering_fails() {
    let (d, b) = store();
    let mut data = png(2 * CHUNK);
    let marker = b"ZHUDAI-PLAINTEXT-MARKER-7f3a";
    data.extend_from_slice(marker);
    let s = put(&b, &data, CHUNK);
    let path = b.path_of(&s.id).unwrap();
    let raw = std::fs::read(&path).unwrap();
    assert!(!raw.windows(marker.len()).any(|w| w == marker));
    // Positive control: the same scan finds the marker in a plain file.
    std::fs::write(d.path().join("plain.txt"), marker).unwrap();
    let plain = std::fs::read(d.path().join("plain.txt")).unwrap();
    assert!(plain.windows(marker.len()).any(|w| w == marker));

    // One changed byte in a middle chunk: reading it fails, no garbage.
    let mut bad = raw.clone();
    bad[MAGIC.len() + CHUNK + 40] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let mut r = b.open(&s.id, s.size, &s.wrapped_key).unwrap();
    assert!(matches!(r.read_all(), Err(BlobError::Verify(_))));
    // The first chunk still reads (a range that avoids the damage).
    let mut got = Vec::new();
    r.read_range(0, 99, |p| {
        got.extend_from_slice(p);
        true
    })
    .unwrap();
    assert_eq!(got, data[..100]);

    // Cut off after the first full chunk: the flag refuses it as the last one.
    std::fs::write(&path, &raw[..MAGIC.len() + CHUNK + stream::TAG]).unwrap();
    let mut r = b.open(&s.id, CHUNK as u64, &s.wrapped_key).unwrap();
    assert!(r.read_all().is_err());
    // Bytes appended.
    let mut longer = raw.clone();
    longer.extend_from_slice(b"more");
    std::fs::write(&path, &longer).unwrap();
    let mut r = b.open(&s.id, s.size, &s.wrapped_key).unwrap();
    assert!(r.read_all().is_err());
    // The wrapped key belongs to its blob.
    assert!(b.open(&s.id, s.size, "1:00").is_err());
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        b.open(&s.id, s.size, &s.wrapped_key),
        Err(BlobError::Missing(_))
    ));
}

#[test]
fn limits_and_types() {
    let (_d, mut b) = store();
    b.limit = 1000;
    let mut w = b.writer().unwrap();
    assert!(matches!(
        w.write(&png(2000)),
        Err(BlobError::TooLarge { .. })
    ));
    drop(w);
    let mut w = b.writer().unwrap();
    assert!(matches!(
        w.write(b"<html><body>not a scan</body></html>"),
        Err(BlobError::TypeRefused)
    ));
    drop(w);
    let w = b.writer().unwrap();
    assert!(matches!(w.finish(), Err(BlobError::Empty)));
    assert!(
        b.tmp_dir().read_dir().unwrap().next().is_none(),
        "refused uploads leave nothing behind"
    );
}

#[test]
fn ranges_parse() {
    let r = |h: &str, n| parse_range(Some(h), n);
    assert_eq!(parse_range(None, 10), Ok(None));
    assert_eq!(r("bytes=0-3", 10), Ok(Some((0, 3))));
    assert_eq!(r("bytes=5-", 10), Ok(Some((5, 9))));
    assert_eq!(r("bytes=-4", 10), Ok(Some((6, 9))));
    assert_eq!(r("bytes=-40", 10), Ok(Some((0, 9))));
    assert_eq!(r("bytes=8-100", 10), Ok(Some((8, 9))));
    for bad in [
        "bytes=10-",
        "bytes=10-12",
        "bytes=4-2",
        "bytes=-0",
        "bytes=-",
        "items=0-1",
        "bytes=0-1,3-4",
        "bytes=a-b",
    ] {
        assert_eq!(r(bad, 10), Err(()), "{bad}");
    }
}
