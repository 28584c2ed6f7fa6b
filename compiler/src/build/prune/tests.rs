//! Pruning against a fake cache in a temporary directory.

use super::*;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

struct Cache(PathBuf);

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn cache(test: &str) -> Cache {
    let dir = std::env::temp_dir().join(format!("wbc-prune-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    Cache(dir)
}

/// A cache holding only the current runtime's copy.
fn cache_with_runtime(test: &str) -> (Cache, PathBuf) {
    let c = cache(test);
    let runtime = c.0.join("runtime-new");
    file(&runtime.join("Cargo.toml"), 10);
    (c, runtime)
}

fn file(path: &Path, bytes: usize) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, vec![b'x'; bytes]).unwrap();
}

fn age(path: &Path, days: u32) {
    let when = SystemTime::now() - DAY * days;
    fs::File::open(path).unwrap().set_modified(when).unwrap();
}

/// A generated crate built `days` ago against `runtime`, with the
/// artifacts cargo leaves for it.
fn built(root: &Path, package: &str, runtime: &Path, days: u32) {
    let dir = root.join("proxies").join(package);
    let toml = format!(
        "[dependencies]\nwbc-runtime = {{ path = \"{}\" }}\n",
        runtime.display()
    );
    file(&dir.join("Cargo.toml"), 0);
    fs::write(dir.join("Cargo.toml"), toml).unwrap();
    file(&dir.join("src/main.rs"), 100);
    let binary = dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    file(&binary, 1000);
    age(&binary, days);
    let crate_name = package.replace('-', "_");
    let release = root.join("target/release");
    file(&release.join(package), 1000);
    file(&release.join(format!("{package}.d")), 10);
    file(&release.join(format!("deps/{crate_name}-0123abcd")), 1000);
    file(&release.join(format!("deps/{crate_name}-0123abcd.d")), 10);
    file(
        &release.join(format!(".fingerprint/{package}-0123abcd/bin-{package}")),
        10,
    );
}

fn exists(root: &Path, relative: &str) -> bool {
    root.join(relative).exists()
}

#[test]
fn crates_unused_for_long_go_with_their_artifacts_and_recent_ones_stay() {
    let (c, runtime) = cache_with_runtime("age");
    let root = &c.0;
    built(root, "wb-old-00000000000000aa", &runtime, 40);
    built(root, "wb-recent-00000000000000bb", &runtime, 3);
    // Shared libraries and other people's files are not ours to remove.
    file(&root.join("target/release/deps/libtokio-99.rlib"), 500);
    file(&root.join("proxies/notes/readme"), 5);
    age(&root.join("proxies/notes"), 400);

    let toml = fs::metadata(root.join("proxies/wb-old-00000000000000aa/Cargo.toml")).unwrap();
    let planted = toml.len() + 100 + 1000 + (1000 + 10) + (1000 + 10) + 10;

    let pruned = prune(root, &runtime, SystemTime::now(), MAX_UNUSED);

    assert_eq!(pruned.crates, 1);
    assert_eq!(pruned.runtimes, 0);
    assert_eq!(pruned.bytes, planted);
    for gone in [
        "proxies/wb-old-00000000000000aa",
        "target/release/wb-old-00000000000000aa",
        "target/release/wb-old-00000000000000aa.d",
        "target/release/deps/wb_old_00000000000000aa-0123abcd",
        "target/release/deps/wb_old_00000000000000aa-0123abcd.d",
        "target/release/.fingerprint/wb-old-00000000000000aa-0123abcd",
    ] {
        assert!(!exists(root, gone), "{gone} should be removed");
    }
    for kept in [
        "proxies/wb-recent-00000000000000bb/wb-recent-00000000000000bb",
        "target/release/wb-recent-00000000000000bb",
        "target/release/deps/wb_recent_00000000000000bb-0123abcd",
        "target/release/deps/libtokio-99.rlib",
        "proxies/notes/readme",
        "runtime-new/Cargo.toml",
    ] {
        assert!(exists(root, kept), "{kept} should be kept");
    }
}

#[test]
fn a_touched_binary_is_in_use_again() {
    let (c, runtime) = cache_with_runtime("touch");
    let root = &c.0;
    built(root, "wb-reused-00000000000000cc", &runtime, 90);
    let binary = root.join(format!(
        "proxies/wb-reused-00000000000000cc/wb-reused-00000000000000cc{}",
        std::env::consts::EXE_SUFFIX
    ));
    touch(&binary).unwrap();
    assert_eq!(
        prune(root, &runtime, SystemTime::now(), MAX_UNUSED),
        Pruned::default()
    );
    assert!(binary.exists());
}

#[test]
fn a_crate_without_binary_counts_from_its_directory() {
    let (c, runtime) = cache_with_runtime("no-binary");
    let root = &c.0;
    let failed = root.join("proxies/wb-failed-00000000000000ff");
    let building = root.join("proxies/wb-building-0000000000000011");
    for dir in [&failed, &building] {
        file(&dir.join("src/main.rs"), 10);
        age(dir, 60);
    }
    // A build of it starts now.
    touch(&building).unwrap();

    let pruned = prune(root, &runtime, SystemTime::now(), MAX_UNUSED);

    assert_eq!(pruned.crates, 1);
    assert!(!failed.exists() && building.exists());
}

#[test]
fn old_runtimes_go_once_no_crate_needs_them() {
    let c = cache("runtimes");
    let root = &c.0;
    let (current, needed, orphan) = (
        root.join("runtime-current"),
        root.join("runtime-needed"),
        root.join("runtime-orphan"),
    );
    for r in [&current, &needed, &orphan] {
        file(&r.join("Cargo.toml"), 10);
        age(r, 100);
    }
    built(root, "wb-kept-00000000000000dd", &needed, 1);

    let pruned = prune(root, &current, SystemTime::now(), MAX_UNUSED);

    assert_eq!((pruned.crates, pruned.runtimes), (0, 1));
    assert!(current.exists() && needed.exists() && !orphan.exists());
}

/// What cargo leaves for one build of the runtime library made from
/// `runtime`'s sources.
fn runtime_built(root: &Path, runtime: &Path, hash: &str) {
    let deps = root.join("target/release/deps");
    let sources = format!(
        "{}: {src}/lib.rs {src}/launch.rs\n",
        deps.join(format!("libwbc_runtime-{hash}.rlib")).display(),
        src = runtime.join("src").display()
    );
    file(&deps.join(format!("wbc_runtime-{hash}.d")), 0);
    fs::write(deps.join(format!("wbc_runtime-{hash}.d")), sources).unwrap();
    file(&deps.join(format!("libwbc_runtime-{hash}.rlib")), 3000);
    file(&deps.join(format!("libwbc_runtime-{hash}.rmeta")), 2000);
    file(
        &root.join(format!(
            "target/release/.fingerprint/wbc-runtime-{hash}/lib-wbc_runtime"
        )),
        10,
    );
}

#[test]
fn a_compiled_runtime_goes_with_its_copy() {
    let c = cache("runtime-builds");
    let root = &c.0;
    let (current, orphan) = (root.join("runtime-current"), root.join("runtime-orphan"));
    for r in [&current, &orphan] {
        file(&r.join("Cargo.toml"), 10);
        age(r, 100);
    }
    runtime_built(root, &current, "aaaa");
    runtime_built(root, &orphan, "bbbb");
    // Left by a copy an earlier pass removed.
    runtime_built(root, &root.join("runtime-gone"), "cccc");
    let dep_info = |hash: &str| format!("target/release/deps/wbc_runtime-{hash}.d");
    let planted =
        |hash: &str| fs::metadata(root.join(dep_info(hash))).unwrap().len() + 3000 + 2000 + 10;
    let expected_bytes = 10 + planted("bbbb") + planted("cccc");

    let pruned = prune(root, &current, SystemTime::now(), MAX_UNUSED);

    assert_eq!((pruned.runtimes, pruned.runtime_builds), (1, 2));
    assert_eq!(pruned.bytes, expected_bytes);
    for hash in ["bbbb", "cccc"] {
        for gone in [
            dep_info(hash),
            format!("target/release/deps/libwbc_runtime-{hash}.rlib"),
            format!("target/release/deps/libwbc_runtime-{hash}.rmeta"),
            format!("target/release/.fingerprint/wbc-runtime-{hash}"),
        ] {
            assert!(!exists(root, &gone), "{gone} should be removed");
        }
    }
    for kept in [
        dep_info("aaaa"),
        "target/release/deps/libwbc_runtime-aaaa.rlib".to_string(),
        "target/release/.fingerprint/wbc-runtime-aaaa".to_string(),
    ] {
        assert!(exists(root, &kept), "{kept} should be kept");
    }
}

#[test]
fn artifact_names_match_only_the_package() {
    let p = "wb-a-00000000000000ee";
    assert!(names_artifact(p, p));
    assert!(names_artifact(&format!("{p}.d"), p));
    assert!(names_artifact(&format!("{p}-1f2e3d"), p));
    assert!(!names_artifact(&format!("{p}x"), p));
    assert!(!names_artifact("wb-a-00000000000000e", p));
}
