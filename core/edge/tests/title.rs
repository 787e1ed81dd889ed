//! The process title in a process of its own (no test harness: one thread, as the daemon when
//! it claims the title): `/proc/self/cmdline` and `ps` show the title, longer than the
//! command line, and every environment variable still reads as before.

use std::collections::BTreeMap;
use std::ffi::OsString;

use lonc_edge::title::ProcessTitle;

fn cmdline() -> Vec<u8> {
    let bytes = std::fs::read("/proc/self/cmdline").expect("/proc/self/cmdline");
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end].to_vec()
}

fn main() {
    // A variable of our own, with a value long enough that the title must cover it.
    if std::env::var_os("LONC_TITLE_TEST").is_none() {
        let status = std::process::Command::new(std::env::current_exe().expect("this test"))
            .env("LONC_TITLE_TEST", "x".repeat(300))
            .status()
            .expect("the test runs itself");
        std::process::exit(status.code().unwrap_or(1));
    }
    let before: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    let args: usize = std::env::args_os().map(|a| a.len() + 1).sum();
    // SAFETY: one thread (no harness), and nothing holds a pointer into the environment.
    let mut title = unsafe { ProcessTitle::claim() }.expect("the title is claimed");
    assert!(
        title.capacity() >= args + 300,
        "the title takes the environment's memory too: {} bytes, arguments {args}",
        title.capacity()
    );
    let text = format!(
        "lonc: 3 hosts, 1 dead, 2 links - dead: {}",
        "h".repeat(args)
    );
    title.set(&text);
    assert_eq!(String::from_utf8_lossy(&cmdline()), text);
    let ps = std::process::Command::new("ps")
        .args(["-o", "args=", "-p", &std::process::id().to_string()])
        .output()
        .expect("ps runs");
    assert_eq!(String::from_utf8_lossy(&ps.stdout).trim_end(), text);
    // The environment's memory now holds the title; the variables read as they were.
    let after: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    assert_eq!(before, after);
    // A shorter title leaves no trace of the longer one.
    title.set("lonc: 3 hosts, 0 dead, 0 links");
    assert_eq!(cmdline(), b"lonc: 3 hosts, 0 dead, 0 links");
    // A title longer than the memory is cut.
    title.set(&"y".repeat(title.capacity() + 100));
    assert_eq!(cmdline().len(), title.capacity());
    println!("title: ok");
}
