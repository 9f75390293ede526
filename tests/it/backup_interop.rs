//! Interoperability with the reference `age` command-line tool (Debian package `age`): our
//! backups open with `age -d` (X25519 identity, passphrase, two recipients) and what comes out
//! is a plain tar. `age -d` reads a passphrase only from a terminal, so the passphrase case
//! runs it under `script` (util-linux), which gives it a pseudo-terminal fed from our stdin.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;

use age::secrecy::ExposeSecret;
use zhudai::backup::create::{Quiet, SnapshotSource};
use zhudai::backup::{Encryption, keys};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `age` is installed by .ci/run; without it these tests cannot say anything.
fn age_or_skip() -> bool {
    if have("age") {
        return true;
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: the reference `age` tool is not installed (apt-get install age); \
         the interoperability of backups was NOT tested !!!!!!!!\n"
    );
    false
}

/// The BLAKE3 of a file as the reference `b3sum` (Debian package `b3sum`, installed by .ci/run)
/// prints it; where it is missing, as the `blake3` crate computes it, said loudly.
fn b3sum(file: &Path) -> String {
    if !have("b3sum") {
        eprintln!(
            "\n!!!!!!!! `b3sum` is not installed (apt-get install b3sum): hashes were checked \
             with the blake3 crate only !!!!!!!!\n"
        );
        return blake3::hash(&std::fs::read(file).unwrap())
            .to_hex()
            .to_string();
    }
    let out = succeed(Command::new("b3sum").arg("--no-names").arg(file));
    String::from_utf8(out).unwrap().trim().to_string()
}

/// Runs a reference tool and returns what it printed; its failure fails the test, with what it
/// said on stderr.
fn succeed(command: &mut Command) -> Vec<u8> {
    let out = command.output().unwrap_or_else(|e| {
        panic!("{command:?}: {e} (is the tool installed? .ci/run installs it)")
    });
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let app = zhudai::open_app(
        dir.path(),
        zhudai::config::Config::defaults().unwrap(),
        std::sync::Arc::new(zhudai::service::SystemClock),
    )
    .unwrap();
    drop(app);
    std::fs::create_dir_all(dir.path().join("blobs/ab")).unwrap();
    std::fs::write(dir.path().join("blobs/ab/cdef"), vec![7u8; 300_000]).unwrap();
    // A file with holes: a GNU sparse entry, which tar extracts whole.
    let holes = std::fs::File::create(dir.path().join("blobs/ab/holes")).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&holes, &[9u8; 4096], 1 << 20).unwrap();
    holes.set_len(3 << 20).unwrap();
    // A name longer than a tar header's 100 bytes (GNU tar reads the long-name block).
    std::fs::write(dir.path().join(LONG_PLUGIN), "// 评分规则\n").unwrap();
    dir
}

const LONG_PLUGIN: &str =
    "plugins/按照本机构的评分规则给客户打分并且在分配之前检查资料是否齐全的插件.rhai";

fn backup(data: &Path, out: &Path, encryption: &Encryption) {
    zhudai::backup::create(
        data,
        out,
        encryption,
        SnapshotSource::ServerOrFile,
        chrono::Utc::now(),
        &mut Quiet,
        &AtomicBool::new(false),
    )
    .unwrap();
}

fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).unwrap();
    (path, id.to_public().to_string())
}

/// `zstd -d` of what `age -d` wrote: the tar (backups are tar → zstd → age).
fn unzstd(compressed: &Path) -> PathBuf {
    let tar = compressed.with_extension("tar");
    succeed(
        Command::new("zstd")
            .args(["-d", "-q", "-f"])
            .arg(compressed)
            .arg("-o")
            .arg(&tar),
    );
    tar
}

/// Names listed by `tar -t` of the tar inside a decrypted backup (`age -d | zstd -d | tar -t`).
fn tar_names(decrypted: &Path) -> Vec<String> {
    let tar = unzstd(decrypted);
    let out = succeed(Command::new("tar").arg("-tf").arg(&tar));
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect()
}

fn expect_entries(names: &[String]) {
    // Format 3 opens with the manifest's announcement (no entries), then the store, and ends
    // with the manifest; `tar -x` keeps the last.
    assert_eq!(names.first().map(String::as_str), Some("manifest.json"));
    assert_eq!(names.get(1).map(String::as_str), Some("zhudai.redb"));
    assert_eq!(names.last().map(String::as_str), Some("manifest.json"));
    for want in [
        "keys/master.key",
        "blobs/ab/cdef",
        "plugins/README.md",
        LONG_PLUGIN,
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
}

#[test]
fn age_decrypts_with_an_identity_and_the_content_is_a_zstd_tar() {
    if !age_or_skip() {
        return;
    }
    let data = data_dir();
    let work = tempfile::tempdir().unwrap();
    let (id1, r1) = keypair(work.path(), "id1.txt");
    let (id2, r2) = keypair(work.path(), "id2.txt");
    // Two recipients, given through a recipients file.
    let rfile = work.path().join("recipients.txt");
    std::fs::write(&rfile, format!("# office and off-site\n{r1}\n{r2}\n")).unwrap();
    let file = work.path().join("zhudai-test.age");
    backup(
        data.path(),
        &file,
        &Encryption::Recipients(keys::read_recipients_file(&rfile).unwrap()),
    );
    for (i, id) in [&id1, &id2].into_iter().enumerate() {
        let tar = work.path().join(format!("out{i}.zst"));
        succeed(
            Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(id)
                .arg("-o")
                .arg(&tar)
                .arg(&file),
        );
        expect_entries(&tar_names(&tar));
    }
    // Extracted by tar, the key file is the data directory's.
    let x = work.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(work.path().join("out0.tar"))
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(x.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "zhudai-backup");
    assert_eq!(manifest["format_version"], 3);
    // Every file tar extracted is the data directory's (the store is a snapshot of it), with
    // the size and hash the manifest gives.
    let entries = manifest["entries"].as_array().unwrap();
    assert!(entries.len() >= 5, "{entries:?}");
    for e in entries {
        let path = e["path"].as_str().unwrap();
        let bytes = std::fs::read(x.join(path)).unwrap();
        if path != "zhudai.redb" {
            assert_eq!(
                bytes,
                std::fs::read(data.path().join(path)).unwrap(),
                "{path}"
            );
        }
        assert_eq!(e["size"], bytes.len() as u64, "{path}");
        // Format 3 lists BLAKE3 (what `b3sum` prints), and no SHA-256.
        assert_eq!(e["blake3"], b3sum(&x.join(path)).as_str(), "{path}");
        assert!(e.get("sha256").is_none(), "{path}");
    }
}

#[test]
fn age_decrypts_a_passphrase_backup_and_we_read_what_age_encrypts() {
    if !age_or_skip() {
        return;
    }
    if !have("script") {
        eprintln!(
            "\n!!!!!!!! SKIPPED: `script` (util-linux) is missing, so `age -d` cannot be given a passphrase; passphrase interop NOT tested !!!!!!!!\n"
        );
        return;
    }
    let data = data_dir();
    let work = tempfile::tempdir().unwrap();
    let pass_file = work.path().join("pass.txt");
    std::fs::write(&pass_file, "长城 correct horse\n").unwrap();
    let file = work.path().join("p.age");
    backup(
        data.path(),
        &file,
        &Encryption::Passphrase(keys::read_passphrase_file(&pass_file).unwrap()),
    );
    // The header records the work factor: 2^18, whatever the build.
    let text = std::fs::read(&file).unwrap();
    let header = String::from_utf8_lossy(&text[..200]);
    assert!(header.contains("-> scrypt "), "{header}");
    assert!(
        header
            .lines()
            .any(|l| l.starts_with("-> scrypt ") && l.ends_with(" 18")),
        "{header}"
    );

    let tar = work.path().join("out.zst");
    let cmd = format!("age -d -o '{}' '{}'", tar.display(), file.display());
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("长城 correct horse\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    expect_entries(&tar_names(&tar));

    // The other direction: a file `age -p` encrypted opens with our passphrase reader.
    let plain = work.path().join("hello.txt");
    std::fs::write(&plain, "hello").unwrap();
    let theirs = work.path().join("theirs.age");
    let cmd = format!("age -p -o '{}' '{}'", theirs.display(), plain.display());
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("长城 correct horse\n长城 correct horse\n".as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let unlock =
        zhudai::backup::Unlock::Passphrase(keys::read_passphrase_file(&pass_file).unwrap());
    // Not a zhudai backup, but the passphrase opened it: the error is about the content.
    let err =
        zhudai::backup::archive::read(&theirs, &unlock, None, &mut |_| {}, &AtomicBool::new(false))
            .unwrap_err();
    assert!(matches!(err, zhudai::backup::Error::NotZhudai(_)), "{err}");
}
