//! Real file systems that fail the way volumes fail: a small tmpfs that fills up, and a
//! read-only view of a folder. Both need to mount (the tests run as root); a test that cannot
//! mount fails saying so rather than passing without having tested anything.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mount point, unmounted when dropped.
pub struct Mount {
    at: PathBuf,
}

impl Mount {
    /// A tmpfs of `size_kib` KiB at `at` (created if needed).
    pub fn tmpfs(at: &Path, size_kib: u64) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size_kib}k"),
            "tmpfs",
            path_str(at),
        ]);
        Mount { at: at.to_owned() }
    }

    /// `source` seen again at `at`, where every write is refused (EROFS), while `source` itself
    /// stays writable.
    pub fn read_only_view(source: &Path, at: &Path) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        mount(&["--bind", path_str(source), path_str(at)]);
        let view = Mount { at: at.to_owned() };
        mount(&["-o", "remount,bind,ro", path_str(at)]);
        view
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazy: a store a test still holds open must not leave the mount behind.
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

fn mount(args: &[&str]) {
    let out = Command::new("mount").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "these fault tests mount file systems and need root (or CAP_SYS_ADMIN): mount {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fills the file system holding `dir` with a file named `filler` until it refuses more.
/// Removing the file gives the space back.
pub fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                break;
            }
        }
    }
    // Smaller writes take the last partial block, so nothing is left for SQLite to grow into.
    let _ = file.write_all(&[0u8; 512]);
    let _ = file.write_all(&[0u8; 1]);
    path
}
