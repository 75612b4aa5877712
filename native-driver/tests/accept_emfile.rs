//! Accepting under descriptor exhaustion backs off and recovers. Its own test binary:
//! it lowers the process's descriptor limit.

use std::fs::File;
use std::io;
use std::time::Duration;

use strait_native::{IoContext, TcpListener};
use strait_streams::timeout;

fn set_fd_limit(soft: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer for getrlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let old = lim.rlim_cur;
    lim.rlim_cur = soft.min(lim.rlim_max);
    // SAFETY: valid in-pointer for setrlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

#[test]
fn accept_waits_out_descriptor_exhaustion_and_recovers() {
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The connection waits in the backlog; the client socket exists before exhaustion.
    let client = std::net::TcpStream::connect(addr).unwrap();

    let old = set_fd_limit(256).unwrap();
    let mut hog = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("unexpected error while exhausting descriptors: {e}"),
        }
    }
    // Exhausted: accept must neither fail nor return; it backs off.
    let waiting = ctx.block_on(timeout(Duration::from_millis(300), listener.accept()));
    assert_eq!(
        waiting.map(|_| ()).unwrap_err().kind(),
        io::ErrorKind::TimedOut,
        "accept under EMFILE must wait, not fail"
    );
    hog.truncate(hog.len() - 8); // free some descriptors
    let (conn, peer) = ctx
        .block_on(timeout(Duration::from_secs(2), listener.accept()))
        .expect("accept recovers once descriptors are free");
    assert_eq!(peer, client.local_addr().unwrap());
    drop(conn);
    drop(hog);
    set_fd_limit(old).unwrap();
}
