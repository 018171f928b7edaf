//! The run-log format, written and read back.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncWriteExt, ReadBuf};

use super::writer::Clock;
use super::*;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncRead;

/// An `AsyncRead` that returns the given chunks, one per read.
struct ChunkReader(VecDeque<Vec<u8>>);

impl ChunkReader {
    fn new<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(chunks: I) -> Self {
        ChunkReader(chunks.into_iter().map(|c| c.as_ref().to_vec()).collect())
    }
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(mut chunk) = self.0.pop_front() {
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            if n < chunk.len() {
                self.0.push_front(chunk.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A writer whose clock reads 0 ms for the whole test.
fn frozen(path: &Path) -> Arc<Mutex<LogWriter>> {
    let start = Instant::now() + Duration::from_secs(3600);
    Arc::new(Mutex::new(LogWriter::create(path, start).unwrap()))
}

fn manual(path: &Path) -> (Arc<Mutex<LogWriter>>, Arc<AtomicU64>) {
    let ms = Arc::new(AtomicU64::new(0));
    let mut w = LogWriter::create(path, Instant::now()).unwrap();
    w.clock = Clock::Manual(ms.clone());
    (Arc::new(Mutex::new(w)), ms)
}

fn secrets(values: &[&str]) -> Arc<Masker> {
    Arc::new(Masker::new(values.iter().map(|s| s.to_string())))
}

fn no_secrets() -> Arc<Masker> {
    Arc::new(Masker::default())
}

/// Pumps `chunks` as stdout into a fresh frozen-clock log and returns the file's bytes.
async fn pumped<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(chunks: I, masker: Arc<Masker>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = frozen(&path);
    pump(ChunkReader::new(chunks), Stream::Stdout, log, masker)
        .await
        .unwrap();
    std::fs::read(&path).unwrap()
}

/// Waits (polling, bounded by a generous deadline) until the file satisfies `ok`.
async fn wait_for(path: &Path, ok: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let content = std::fs::read(path).unwrap_or_default();
        if ok(&content) {
            return content;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; file holds {:?}",
            String::from_utf8_lossy(&content)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn line(t_ms: u64, kind: LineKind, text: &[u8]) -> LogLine {
    LogLine {
        t_ms,
        kind,
        text: text.to_vec(),
        truncated: false,
    }
}

fn parse_all(bytes: &[u8], max_line: usize) -> Vec<LogLine> {
    let mut p = LogParser::new(max_line);
    let mut out = Vec::new();
    p.feed(bytes, &mut out);
    p.finish(&mut out);
    out
}

fn x(n: usize, b: u8) -> Vec<u8> {
    vec![b; n]
}

// --- framing ------------------------------------------------------------------------------

#[tokio::test]
async fn frames_mixed_streams_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = frozen(&path);
    log.lock()
        .unwrap()
        .annotate("$ ./ops/deploy.sh eu-west 1.2.0")
        .unwrap();
    let m = no_secrets();
    pump(
        ChunkReader::new(["a\nb\n"]),
        Stream::Stdout,
        log.clone(),
        m.clone(),
    )
    .await
    .unwrap();
    pump(ChunkReader::new(["x\ny"]), Stream::Stderr, log.clone(), m.clone())
        .await
        .unwrap();
    let n = pump(ChunkReader::new(["c\n", "\n"]), Stream::Stdout, log.clone(), m)
        .await
        .unwrap();
    assert_eq!(n, 3);
    log.lock().unwrap().annotate("exit 1 after 2.1s").unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"@0\n# $ ./ops/deploy.sh eu-west 1.2.0\no a\no b\ne x\ne y\no c\no \n# exit 1 after 2.1s\n"
    );
}

#[tokio::test]
async fn concurrent_pumps_keep_records_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = frozen(&path);
    let out: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("out {i}\n").into_bytes())
        .collect();
    let err: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("err {i}\n").into_bytes())
        .collect();
    let a = tokio::spawn(pump(
        ChunkReader::new(out.chunks(777)),
        Stream::Stdout,
        log.clone(),
        no_secrets(),
    ));
    let b = tokio::spawn(pump(
        ChunkReader::new(err.chunks(1000)),
        Stream::Stderr,
        log.clone(),
        no_secrets(),
    ));
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    let lines = read_log(&path).unwrap();
    let outs: Vec<_> = lines
        .iter()
        .filter(|l| l.kind == LineKind::Stdout)
        .map(|l| l.text.clone())
        .collect();
    let errs: Vec<_> = lines
        .iter()
        .filter(|l| l.kind == LineKind::Stderr)
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(
        outs,
        (0..20_000)
            .map(|i| format!("out {i}").into_bytes())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        errs,
        (0..20_000)
            .map(|i| format!("err {i}").into_bytes())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn time_markers_only_when_the_millisecond_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let (log, ms) = manual(&path);
    let m = no_secrets();
    log.lock().unwrap().annotate("start").unwrap();
    pump(
        ChunkReader::new(["a\nb\n"]),
        Stream::Stdout,
        log.clone(),
        m.clone(),
    )
    .await
    .unwrap();
    ms.store(12, Ordering::SeqCst);
    pump(ChunkReader::new(["c\n"]), Stream::Stdout, log.clone(), m.clone())
        .await
        .unwrap();
    pump(ChunkReader::new(["d\n"]), Stream::Stderr, log.clone(), m.clone())
        .await
        .unwrap();
    ms.store(15, Ordering::SeqCst);
    log.lock().unwrap().annotate("done").unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"@0\n# start\no a\no b\n@12\no c\ne d\n@15\n# done\n"
    );
}

#[tokio::test]
async fn a_burst_in_one_read_shares_one_marker_with_the_real_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = Arc::new(Mutex::new(LogWriter::create(&path, Instant::now()).unwrap()));
    let burst: Vec<u8> = (0..5000).flat_map(|i| format!("{i}\n").into_bytes()).collect();
    pump(ChunkReader::new([&burst]), Stream::Stdout, log, no_secrets())
        .await
        .unwrap();
    let content = std::fs::read(&path).unwrap();
    let markers = content
        .split(|&b| b == b'\n')
        .filter(|r| r.first() == Some(&b'@'))
        .count();
    assert_eq!(markers, 1);
    assert_eq!(content.iter().filter(|&&b| b == b'\n').count(), 5001);
}

#[tokio::test]
async fn partial_line_is_flushed_after_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = frozen(&path);
    let (mut child, ours) = tokio::io::duplex(1024);
    let task = tokio::spawn(pump(ours, Stream::Stdout, log, no_secrets()));
    child.write_all(b"done\nprogress 10%").await.unwrap();
    let written = Instant::now();
    let content = wait_for(&path, |c| c.ends_with(b"O progress 10%\n")).await;
    assert!(written.elapsed() >= IDLE_FLUSH, "flushed before the idle time");
    assert_eq!(content, b"@0\no done\nO progress 10%\n");
    child.write_all(b" 55%\n").await.unwrap();
    drop(child);
    task.await.unwrap().unwrap();
    let content = std::fs::read(&path).unwrap();
    assert_eq!(content, b"@0\no done\nO progress 10%\no  55%\n");
    let lines = parse_all(&content, LOG_LINE_CAP);
    assert_eq!(
        lines,
        [
            line(0, LineKind::Stdout, b"done"),
            line(0, LineKind::Stdout, b"progress 10% 55%")
        ]
    );
}

#[tokio::test]
async fn stream_ending_after_a_fragment_completes_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = frozen(&path);
    let (mut child, ours) = tokio::io::duplex(1024);
    let task = tokio::spawn(pump(ours, Stream::Stderr, log, no_secrets()));
    child.write_all(b"Password: ").await.unwrap();
    wait_for(&path, |c| c.ends_with(b"E Password: \n")).await;
    drop(child);
    assert_eq!(task.await.unwrap().unwrap(), 10);
    let content = std::fs::read(&path).unwrap();
    assert_eq!(content, b"@0\nE Password: \ne \n");
    assert_eq!(
        parse_all(&content, 100),
        [line(0, LineKind::Stderr, b"Password: ")]
    );
}

#[tokio::test]
async fn line_cap_writes_fragments_and_drops_nothing() {
    // One read per 64 KiB: 150 000 bytes then the newline.
    let mut long = x(150_000, b'x');
    long.push(b'\n');
    let mut expected = b"@0\nO ".to_vec();
    expected.extend(x(LOG_LINE_CAP, b'x'));
    expected.extend(b"\nO ");
    expected.extend(x(LOG_LINE_CAP, b'x'));
    expected.extend(b"\no ");
    expected.extend(x(150_000 - 2 * LOG_LINE_CAP, b'x'));
    expected.push(b'\n');
    assert_eq!(pumped([&long], no_secrets()).await, expected);

    // A line that crosses the cap inside the read that completes it.
    let mut second = x(10_000, b'y');
    second.extend(b"\nok\n");
    let mut expected = b"@0\nO ".to_vec();
    expected.extend(x(60_000, b'x'));
    expected.extend(x(LOG_LINE_CAP - 60_000, b'y'));
    expected.extend(b"\no ");
    expected.extend(x(70_000 - LOG_LINE_CAP, b'y'));
    expected.extend(b"\no ok\n");
    assert_eq!(pumped([x(60_000, b'x'), second], no_secrets()).await, expected);

    // No newline at all: the cap flushes, the end of the stream completes.
    let mut expected = b"@0\nO ".to_vec();
    expected.extend(x(LOG_LINE_CAP, b'z'));
    expected.extend(b"\no ");
    expected.extend(x(70_000 - LOG_LINE_CAP, b'z'));
    expected.push(b'\n');
    let content = pumped([x(70_000, b'z')], no_secrets()).await;
    assert_eq!(content, expected);
    assert_eq!(
        parse_all(&content, usize::MAX),
        [line(0, LineKind::Stdout, &x(70_000, b'z'))]
    );
}

#[tokio::test]
async fn remainder_without_trailing_newline_is_a_complete_record() {
    assert_eq!(pumped(["a\nb"], no_secrets()).await, b"@0\no a\no b\n");
    assert_eq!(pumped(["a", "b", "c"], no_secrets()).await, b"@0\no abc\n");
    assert_eq!(pumped(Vec::<Vec<u8>>::new(), no_secrets()).await, b"");
    assert_eq!(pumped(["\n"], no_secrets()).await, b"@0\no \n");
}

#[tokio::test]
async fn bytes_are_kept_as_received() {
    let raw = b"\xff\xfe bad utf8 \r\x1b[31mred\x1b[0m \x00 \x1b]52;c;aGk=\x07\n";
    let content = pumped([&raw[..]], no_secrets()).await;
    let mut expected = b"@0\no ".to_vec();
    expected.extend_from_slice(&raw[..raw.len() - 1]);
    expected.push(b'\n');
    assert_eq!(content, expected);
    assert_eq!(
        parse_all(&content, LOG_LINE_CAP),
        [line(0, LineKind::Stdout, &raw[..raw.len() - 1])]
    );
}

// --- masking ------------------------------------------------------------------------------

#[tokio::test]
async fn masks_secrets_within_a_line() {
    let m = secrets(&["hunter2", "", "s3cr3t-token"]);
    assert_eq!(
        pumped(
            ["user=admin pw=hunter2 again hunter2\nAuthorization: s3cr3t-token\n"],
            m
        )
        .await,
        b"@0\no user=admin pw=*** again ***\no Authorization: ***\n"
    );
}

#[tokio::test]
async fn masks_a_secret_split_across_reads() {
    let m = secrets(&["hunter2"]);
    assert_eq!(
        pumped(["pw=hun", "ter2\nnext hunt", "er2 end\n"], m.clone()).await,
        b"@0\no pw=***\no next *** end\n"
    );
    // Split right at the line cap: the secret prefix is held back from the fragment.
    let mut first = x(LOG_LINE_CAP - 3, b'a');
    first.extend(b"hun");
    let mut expected = b"@0\nO ".to_vec();
    expected.extend(x(LOG_LINE_CAP - 3, b'a'));
    expected.extend(b"\no ***!\n");
    assert_eq!(pumped([first, b"ter2!\n".to_vec()], m).await, expected);
}

#[tokio::test]
async fn idle_flush_holds_back_a_possible_secret_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = frozen(&path);
    let (mut child, ours) = tokio::io::duplex(1024);
    let task = tokio::spawn(pump(ours, Stream::Stdout, log, secrets(&["hunter2"])));
    child.write_all(b"pw=hun").await.unwrap();
    assert_eq!(wait_for(&path, |c| !c.is_empty()).await, b"@0\nO pw=\n");
    child.write_all(b"ter2 ok\n").await.unwrap();
    drop(child);
    task.await.unwrap().unwrap();
    let content = std::fs::read(&path).unwrap();
    assert_eq!(content, b"@0\nO pw=\no *** ok\n");
    assert_eq!(
        parse_all(&content, 100),
        [line(0, LineKind::Stdout, b"pw=*** ok")]
    );
}

#[tokio::test]
async fn masks_at_end_of_stream() {
    let m = secrets(&["hunter2"]);
    assert_eq!(pumped(["token hunter2"], m.clone()).await, b"@0\no token ***\n");
    assert_eq!(
        pumped(["token hun", "ter2"], m.clone()).await,
        b"@0\no token ***\n"
    );
    // Only a prefix: at the end of the stream it is just text.
    assert_eq!(pumped(["ends with hun"], m).await, b"@0\no ends with hun\n");
}

// --- writer -------------------------------------------------------------------------------

#[test]
fn annotations_are_split_per_line_and_masked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let start = Instant::now() + Duration::from_secs(3600);
    let mut w = LogWriter::create(&path, start)
        .unwrap()
        .with_masker(secrets(&["hunter2"]));
    w.annotate("$ deploy --token hunter2\nsecond line").unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"@0\n# $ deploy --token ***\n# second line\n"
    );
}

#[test]
fn reopening_a_torn_file_terminates_the_torn_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    std::fs::write(&path, b"@3\no whole\no torn").unwrap();
    let start = Instant::now() + Duration::from_secs(3600);
    LogWriter::create(&path, start)
        .unwrap()
        .annotate("again")
        .unwrap();
    let content = std::fs::read(&path).unwrap();
    assert_eq!(content, b"@3\no whole\no torn\n@0\n# again\n");
    assert_eq!(
        parse_all(&content, 100),
        [
            line(3, LineKind::Stdout, b"whole"),
            line(3, LineKind::Stdout, b"torn"),
            line(0, LineKind::Note, b"again")
        ]
    );
}

#[tokio::test]
async fn pumps_a_real_child() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let log = Arc::new(Mutex::new(LogWriter::create(&path, Instant::now()).unwrap()));
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", "seq 1 3000; printf 'no newline'"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let n = pump(child.stdout.take().unwrap(), Stream::Stdout, log, no_secrets())
        .await
        .unwrap();
    child.wait().await.unwrap();
    let lines = read_log(&path).unwrap();
    let mut expected: Vec<Vec<u8>> = (1..=3000).map(|i: u32| i.to_string().into_bytes()).collect();
    expected.push(b"no newline".to_vec());
    assert_eq!(lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>(), expected);
    assert_eq!(n, expected.iter().map(|l| l.len() as u64 + 1).sum::<u64>() - 1);
    let t: Vec<u64> = lines.iter().map(|l| l.t_ms).collect();
    assert!(t.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test]
async fn a_log_that_cannot_be_written_is_drained_and_named() {
    // /dev/full: every write fails with ENOSPC. The child must still run to its end (not die
    // of SIGPIPE), and the writer names the error and the file.
    let log = Arc::new(Mutex::new(
        LogWriter::create(Path::new("/dev/full"), Instant::now()).unwrap(),
    ));
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", "seq 1 200000 || exit 7; exit 3"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let result = pump(
        child.stdout.take().unwrap(),
        Stream::Stdout,
        log.clone(),
        no_secrets(),
    )
    .await;
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(3), "{status:?}");
    let e = result.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc_enospc()));
    assert_eq!(
        log.lock().unwrap().failure().as_deref(),
        Some("no space left on device writing /dev/full")
    );
}

fn libc_enospc() -> i32 {
    nix::errno::Errno::ENOSPC as i32
}

// --- parser -------------------------------------------------------------------------------

const SAMPLE: &[u8] = b"@0\n# $ ./deploy.sh eu-west\no plain\nO frag-\ne err \xff\xfe\n@5\nO ment\nE part\n\
o  done\r\x1b[31mred\x1b[0m\n@7\ne ial\no \n# exit 1 after 2.1s\n";

fn sample_lines() -> Vec<LogLine> {
    vec![
        line(0, LineKind::Note, b"$ ./deploy.sh eu-west"),
        line(0, LineKind::Stdout, b"plain"),
        line(0, LineKind::Stderr, b"err \xff\xfe"),
        line(0, LineKind::Stdout, b"frag-ment done\r\x1b[31mred\x1b[0m"),
        line(5, LineKind::Stderr, b"partial"),
        line(7, LineKind::Stdout, b""),
        line(7, LineKind::Note, b"exit 1 after 2.1s"),
    ]
}

#[test]
fn parser_round_trip_at_every_split_point() {
    let expected = sample_lines();
    assert_eq!(parse_all(SAMPLE, 1000), expected);
    for i in 0..=SAMPLE.len() {
        let mut p = LogParser::new(1000);
        let mut out = Vec::new();
        p.feed(&SAMPLE[..i], &mut out);
        p.feed(&SAMPLE[i..], &mut out);
        p.finish(&mut out);
        assert_eq!(out, expected, "split at {i}");
    }
    for i in 0..=SAMPLE.len() {
        for j in i..=SAMPLE.len() {
            let mut p = LogParser::new(1000);
            let mut out = Vec::new();
            for piece in [&SAMPLE[..i], &SAMPLE[i..j], &SAMPLE[j..]] {
                p.feed(piece, &mut out);
            }
            p.finish(&mut out);
            assert_eq!(out, expected, "split at {i} and {j}");
        }
    }
    let mut p = LogParser::new(1000);
    let mut out = Vec::new();
    for b in SAMPLE {
        p.feed(std::slice::from_ref(b), &mut out);
    }
    p.finish(&mut out);
    assert_eq!(out, expected);
}

#[test]
fn parser_emits_lines_as_soon_as_they_are_complete() {
    let mut p = LogParser::new(100);
    let mut out = Vec::new();
    p.feed(b"@1\nO abc\no d", &mut out);
    assert!(out.is_empty());
    p.feed(b"ef\n", &mut out);
    assert_eq!(out, [line(1, LineKind::Stdout, b"abcdef")]);
}

#[test]
fn parser_truncates_at_max_line() {
    let lines = parse_all(b"o 0123456789\nO 01234\nO 56789\no ab\no ok\n# 0123456789\n", 8);
    let cut = |kind, text: &[u8]| LogLine {
        t_ms: 0,
        kind,
        text: text.to_vec(),
        truncated: true,
    };
    assert_eq!(
        lines,
        [
            cut(LineKind::Stdout, b"01234567"),
            cut(LineKind::Stdout, b"01234567"),
            line(0, LineKind::Stdout, b"ok"),
            cut(LineKind::Note, b"01234567"),
        ]
    );
    // A record arriving in pieces is cut while buffering; memory stays bounded.
    let mut p = LogParser::new(8);
    let mut out = Vec::new();
    p.feed(b"e 0123", &mut out);
    for _ in 0..10_000 {
        p.feed(b"456789abcdef", &mut out);
    }
    assert!(p.partial.len() <= 8 + 24);
    p.feed(b"\ne next\n", &mut out);
    assert_eq!(
        out,
        [
            cut(LineKind::Stderr, b"01234567"),
            line(0, LineKind::Stderr, b"next")
        ]
    );
    // Fragments beyond the cut are skipped, not kept.
    let mut p = LogParser::new(8);
    for _ in 0..10_000 {
        p.feed(b"O 0123456789\n", &mut out);
    }
    assert!(p.joiners[0].text.len() <= 8);
}

#[test]
fn parser_skips_unknown_and_malformed_records() {
    let lines = parse_all(
        b"x future record\nofoo\n@abc\n@\n\n@99999999999999999999999\no ok\n@4\ne fine\n",
        100,
    );
    assert_eq!(
        lines,
        [
            line(0, LineKind::Stdout, b"ok"),
            line(4, LineKind::Stderr, b"fine")
        ]
    );
}

#[test]
fn finish_emits_unfinished_fragments_in_start_order() {
    let mut p = LogParser::new(100);
    let mut out = Vec::new();
    p.feed(b"E b1\n@3\nO a1\nE b2\no unrelated", &mut out);
    assert!(out.is_empty());
    p.finish(&mut out);
    assert_eq!(
        out,
        [
            line(3, LineKind::Stdout, b"a1unrelated"),
            line(0, LineKind::Stderr, b"b1b2"),
        ]
    );
}

#[test]
fn feed_with_borrows_without_allocating_lines() {
    let mut p = LogParser::new(100);
    let mut seen = Vec::new();
    p.feed_with(b"@2\no one\ne two\n", |l| {
        seen.push((l.t_ms, l.kind, l.text.to_vec()))
    });
    assert_eq!(
        seen,
        [
            (2, LineKind::Stdout, b"one".to_vec()),
            (2, LineKind::Stderr, b"two".to_vec())
        ]
    );
}
