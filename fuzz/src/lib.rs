//! What the fuzz targets share: the code under test for each target, and, without libFuzzer,
//! a small mutation loop over a seed corpus.
//!
//! The loop is hand-written because libFuzzer needs nightly and cargo-fuzz, which a stable
//! toolchain (CI, most laptops) does not have; it is deliberately simple (byte flips, inserts,
//! deletions, truncation, splices of two seeds, interesting bytes) and makes no claim to
//! coverage guidance. With `--features libfuzzer` the targets use libFuzzer instead.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use nodeport_watch::detect::Detector;
use nodeport_watch::model::{Format, RuleId};
use nodeport_watch::normalize::{Normalized, RecordContext, RecordReader, normalize};

/// Normalizes `data` as `format` and runs every rule on every event it yields.
pub fn normalize_and_detect(data: &[u8], format: Format) {
    let rules: BTreeSet<RuleId> = RuleId::ALL.into_iter().collect();
    let detector = Detector::new(rules, Default::default());
    let now = Utc
        .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let ctx = RecordContext {
        format,
        ..RecordContext::default()
    };
    normalize(data, &ctx, &mut |n| {
        if let Normalized::Event(event) = n {
            let _ = detector.inspect(&event, now);
        }
    });
}

/// Reads `data` as a file of records (JSON Lines or one document), with a small record limit
/// so the over-long path is exercised too.
pub fn read_records(data: &[u8]) {
    let reader = RecordReader::new(BufReader::new(data), 4096);
    for frame in reader.take(100_000) {
        let _ = frame;
    }
}

/// Loads `data` as a configuration file (the loader reads a path, so it is written first).
pub fn load_config(data: &[u8]) {
    let path =
        std::env::temp_dir().join(format!("nodeport-watch-fuzz-{}.toml", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = nodeport_watch::config::load(&path);
    }
}

/// xorshift64*: reproducible from the printed seed, no dependency for a few random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"NodePort\"",
    b"\"services\"",
    b"\"create\"",
    b"\"type\"",
    b"=",
    b"[[",
    b"]]",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(6) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = INTERESTING[rng.below(INTERESTING.len())];
                input.splice(at..at, token.iter().copied());
            }
            2 if !input.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 => input.truncate(at),
            4 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            _ => {
                let byte = rng.next() as u8;
                input.insert(at, byte);
            }
        }
    }
}

fn seeds(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            files.push(bytes);
        }
    }
    files.sort();
    files
}

/// The plain-binary driver: `TARGET [--seconds N] [--seed S] [--crashes DIR] CORPUS…`.
/// Runs every seed, then mutated seeds until the time is up; a panic is caught, its input saved
/// under `--crashes`, and counted. Prints `runs=… crashes=…` and exits non-zero on a crash.
pub fn main_over_corpus(name: &str, target: fn(&[u8])) {
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut seed, mut crashes_dir, mut corpus) = (
        60u64,
        0x9e37_79b9_7f4a_7c15u64,
        PathBuf::from("fuzz/crashes"),
        Vec::new(),
    );
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(seconds),
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(seed),
            "--crashes" => crashes_dir = args.next().map(PathBuf::from).unwrap_or(crashes_dir),
            _ => corpus.push(PathBuf::from(arg)),
        }
    }
    let seeds = seeds(&corpus);
    // The default hook would print every caught panic; the summary says what matters.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed | 1);
    let (mut runs, mut crashes) = (0u64, 0u64);
    let run = |input: &[u8], runs: &mut u64, crashes: &mut u64| {
        *runs += 1;
        if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
            *crashes += 1;
            save_crash(&crashes_dir, name, *runs, input);
        }
    };
    for s in &seeds {
        run(s, &mut runs, &mut crashes);
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut input = Vec::new();
    while Instant::now() < deadline {
        input.clear();
        if let Some(s) = seeds.get(rng.below(seeds.len())) {
            input.extend_from_slice(s);
        }
        mutate(&mut rng, &seeds, &mut input);
        run(&input, &mut runs, &mut crashes);
    }
    println!(
        "{name}: seeds={} runs={runs} crashes={crashes} seconds={seconds} seed={seed}",
        seeds.len()
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}

fn save_crash(dir: &Path, name: &str, run: u64, input: &[u8]) {
    let dir = dir.join(name);
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("crash-{run}")), input);
    }
}

/// One fuzz target: libFuzzer's entry point with `--features libfuzzer`, else the plain driver.
#[macro_export]
macro_rules! target {
    ($name:literal, $body:expr) => {
        #[cfg(feature = "libfuzzer")]
        libfuzzer_sys::fuzz_target!(|data: &[u8]| ($body)(data));

        #[cfg(not(feature = "libfuzzer"))]
        fn main() {
            nodeport_watch_fuzz::main_over_corpus($name, $body);
        }
    };
}
