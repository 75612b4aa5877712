//! Backend selection and fallback, and the reactor's counters, on both backends.
//!
//! Selection reads process-wide environment variables (`STRAIT_NATIVE_BACKEND`,
//! `STRAIT_NATIVE_URING_PROBE_FAIL`), so the cases that set them run this test binary
//! again as a child process (the ignored test `child`) with the variables they need,
//! and read its report from its output.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use strait_native::{Backend, FallbackReason, IoContext, TcpListener, TcpStream, UnixDatagram};
use strait_streams::{read_exact, write_all};

const BACKEND_VAR: &str = "STRAIT_NATIVE_BACKEND";
const PROBE_FAIL_VAR: &str = "STRAIT_NATIVE_URING_PROBE_FAIL";
const CHILD_VAR: &str = "STRAIT_BACKEND_TEST_CHILD";

/// A TCP round trip on `ctx`: the backend does more than start.
fn round_trip(ctx: &IoContext) {
    let listener = TcpListener::bind(ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    ctx.block_on(async {
        let server = async {
            let (mut conn, _) = listener.accept().await?;
            let mut buf = [0u8; 5];
            read_exact(&mut conn, &mut buf[..]).await?;
            write_all(&mut conn, &buf[..]).await
        };
        let client = async {
            let mut conn = TcpStream::connect(ctx, addr).await?;
            write_all(&mut conn, b"hello").await?;
            let mut buf = [0u8; 5];
            read_exact(&mut conn, &mut buf[..]).await?;
            assert_eq!(&buf, b"hello");
            Ok(())
        };
        strait_streams::when_all((server, client)).await
    })
    .unwrap();
}

/// Runs the `child` test in a new process with `env` set (and both selection
/// variables cleared first); returns its report lines.
fn run_child(mode: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env_remove(BACKEND_VAR)
    .env_remove(PROBE_FAIL_VAR)
    .env(CHILD_VAR, mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child {mode} {env:?} failed:\n{stdout}\n{stderr}"
    );
    let report: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("REPORT "))
        .collect();
    assert_eq!(
        report.len(),
        1,
        "child {mode} {env:?} gave no report:\n{stdout}\n{stderr}"
    );
    report[0].to_owned()
}

/// The child side: builds a context as `STRAIT_BACKEND_TEST_CHILD` says and prints
/// `REPORT ...`. Not a test by itself (it does nothing without the variable).
#[test]
#[ignore = "run by the selection tests in a child process"]
fn child() {
    let Ok(mode) = std::env::var(CHILD_VAR) else {
        return;
    };
    // `seccomp_<errno>`: a real refusal of `io_uring_setup` (not the simulated one),
    // as a container's seccomp profile or a hardened sandbox gives.
    let mode = match mode.strip_prefix("seccomp_") {
        Some(errno) => {
            deny_io_uring_setup(match errno {
                "enosys" => libc::ENOSYS,
                "eperm" => libc::EPERM,
                other => panic!("unknown errno {other}"),
            });
            "auto".to_owned()
        }
        None => mode,
    };
    let backend = match mode.as_str() {
        "auto" => Backend::Auto,
        "io_uring" => Backend::IoUring,
        "epoll" => Backend::Epoll,
        other => panic!("unknown child mode {other}"),
    };
    let line = match IoContext::builder().backend(backend).build() {
        Ok(ctx) => {
            round_trip(&ctx);
            // Which backend drives, whether files run on a ring (under `Auto`: epoll
            // drives, a ring serves the files), and why io_uring was not taken.
            let files = if ctx.completion_files() {
                "ring"
            } else {
                "pool"
            };
            format!(
                "ok {} files={files} {:?}",
                ctx.backend(),
                ctx.fallback_reason()
            )
        }
        Err(e) => {
            let reason = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<FallbackReason>());
            format!("err {:?} {reason:?}", e.kind())
        }
    };
    // On a line of its own: the test harness prints the test's name without a newline.
    println!("\nREPORT {line}");
}

/// Installs a seccomp filter on this thread that fails `io_uring_setup` with `errno`
/// (threads it starts later inherit it; nothing else is affected).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn deny_io_uring_setup(errno: i32) {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64
    const IO_URING_SETUP: u32 = 425; // the same number on every architecture
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const RET_ALLOW: u32 = 0x7FFF_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut program = [
        op(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        op(JEQ_K, 1, 0, AUDIT_ARCH),
        op(RET_K, 0, 0, RET_ALLOW),
        op(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        op(JEQ_K, 0, 1, IO_URING_SETUP),
        op(RET_K, 0, 0, RET_ERRNO | errno as u32),
        op(RET_K, 0, 0, RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; `prog` points at a valid filter for the duration of
    // the call (the kernel copies it).
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        let r = libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        );
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn deny_io_uring_setup(_errno: i32) {
    panic!("the seccomp filter knows only x86_64 and aarch64");
}

/// Real refusals, not simulated ones: a seccomp filter makes `io_uring_setup` fail
/// with ENOSYS (what Docker's default profile does) or EPERM (what
/// `kernel.io_uring_disabled=2` gives) and `Auto` runs on epoll.
#[test]
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn a_kernel_refusing_io_uring_setup_hands_over_to_epoll() {
    assert_eq!(
        run_child("seccomp_enosys", &[]),
        format!(
            "ok epoll files=pool {:?}",
            Some(&FallbackReason::Unsupported)
        )
    );
    assert_eq!(
        run_child("seccomp_eperm", &[]),
        format!("ok epoll files=pool {:?}", Some(&FallbackReason::Disabled))
    );
}

/// `Auto` on a kernel with io_uring: epoll drives, the files run on a ring of their own.
#[test]
fn auto_runs_epoll_with_files_on_a_ring_on_this_kernel() {
    assert_eq!(run_child("auto", &[]), "ok epoll files=ring None");
}

#[test]
fn every_simulated_probe_failure_hands_over_to_epoll() {
    let expected = [
        ("enosys", FallbackReason::Unsupported),
        ("eperm", FallbackReason::Disabled),
        ("enomem", FallbackReason::Memlock),
        ("ext_arg", FallbackReason::MissingFeature("EXT_ARG")),
        ("nodrop", FallbackReason::MissingFeature("NODROP")),
        (
            "multishot_poll",
            FallbackReason::MissingFeature("multishot poll"),
        ),
        ("opcode", FallbackReason::MissingOpcode("POLL_REMOVE")),
        ("einval", FallbackReason::Os(libc::EINVAL)),
        (
            "old_kernel",
            FallbackReason::MissingFeature("multishot recv (Linux 6.0)"),
        ),
    ];
    assert_eq!(
        expected.clone().map(|(name, _)| name),
        FallbackReason::SIMULATED,
        "every simulated reason is tested"
    );
    for (name, reason) in expected {
        let report = run_child("auto", &[(PROBE_FAIL_VAR, name)]);
        assert_eq!(
            report,
            format!("ok epoll files=pool {:?}", Some(&reason)),
            "{name}"
        );
    }
}

#[test]
fn an_explicit_io_uring_request_that_cannot_be_met_is_an_error() {
    let report = run_child("io_uring", &[(PROBE_FAIL_VAR, "eperm")]);
    assert_eq!(
        report,
        format!(
            "err {:?} {:?}",
            std::io::ErrorKind::Unsupported,
            Some(&FallbackReason::Disabled)
        )
    );
    // Through the environment variable too: `Auto` read as `io_uring`.
    let report = run_child(
        "auto",
        &[(BACKEND_VAR, "io_uring"), (PROBE_FAIL_VAR, "enosys")],
    );
    assert_eq!(
        report,
        format!(
            "err {:?} {:?}",
            std::io::ErrorKind::Unsupported,
            Some(&FallbackReason::Unsupported)
        )
    );
}

#[test]
fn the_environment_overrides_auto_only() {
    assert_eq!(
        run_child("auto", &[(BACKEND_VAR, "epoll")]),
        "ok epoll files=pool None",
        "epoll asked for: no fallback reason"
    );
    assert_eq!(
        run_child("auto", &[(BACKEND_VAR, "io_uring")]),
        "ok io_uring files=ring None"
    );
    assert_eq!(
        run_child("io_uring", &[(BACKEND_VAR, "epoll")]),
        "ok io_uring files=ring None"
    );
    assert_eq!(
        run_child("epoll", &[(BACKEND_VAR, "io_uring")]),
        "ok epoll files=pool None"
    );
    // An unknown value is ignored (with a warning): auto.
    assert_eq!(
        run_child("auto", &[(BACKEND_VAR, "kqueue")]),
        "ok epoll files=ring None"
    );
}

#[test]
fn explicit_backends_build_what_they_name() {
    for backend in [Backend::Epoll, Backend::IoUring] {
        let ctx = IoContext::builder().backend(backend).build().unwrap();
        assert_eq!(ctx.backend(), backend);
        assert!(ctx.fallback_reason().is_none());
        round_trip(&ctx);
        let single = IoContext::builder()
            .backend(backend)
            .single_threaded(true)
            .build()
            .unwrap();
        assert_eq!(single.backend(), backend);
        round_trip(&single);
    }
}

/// Guards the CI runs on each backend: the suite really runs where it was told to.
#[test]
fn this_run_uses_the_backend_the_environment_names() {
    let ctx = IoContext::new().unwrap();
    match std::env::var(BACKEND_VAR).as_deref() {
        Ok("epoll") => assert_eq!(ctx.backend(), Backend::Epoll),
        Ok("io_uring") => assert_eq!(ctx.backend(), Backend::IoUring),
        // Auto: epoll drives; the files take a ring unless io_uring was refused.
        _ => {
            assert_eq!(ctx.backend(), Backend::Epoll);
            assert_eq!(ctx.completion_files(), ctx.fallback_reason().is_none());
            assert!(!ctx.completion_sockets());
        }
    }
    assert_eq!(ctx.stats().backend, ctx.backend());
}

#[test]
fn counters_follow_the_work() {
    for backend in [Backend::Epoll, Backend::IoUring] {
        let ctx = IoContext::builder().backend(backend).build().unwrap();
        let before = ctx.stats();
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        let registered = ctx.stats();
        assert_eq!(registered.submitted, before.submitted + 1, "{backend}");
        match backend {
            // One epoll_ctl.
            Backend::Epoll => assert_eq!(registered.enters, before.enters + 1),
            // Queued: it goes to the kernel with the next wait, no syscall of its own.
            _ => assert_eq!(registered.enters, before.enters, "io_uring"),
        }
        drop(listener);
        round_trip(&ctx);
        let after = ctx.stats();
        assert!(after.enters > registered.enters, "{backend}: {after:?}");
        assert!(after.completions > 0, "{backend}: {after:?}");
        assert!(after.submissions_per_enter() > 0.0, "{backend}: {after:?}");
        if backend == Backend::IoUring {
            // The round trip's TCP reads ran on the completion path.
            assert!(after.reads_inline + after.reads_waited > 0, "{after:?}");
        }

        // A post from another thread while the runner sleeps wakes it (an eventfd
        // write). The poster retries until one finds the runner asleep (a loaded
        // machine may not have it there by the first post), then stops it.
        let ctx = Arc::new(ctx);
        let woken_before = ctx.stats().wakeups;
        let poster = {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let mut woke = false;
                for _ in 0..200 {
                    std::thread::sleep(Duration::from_millis(10));
                    ctx.spawn(async {}).detach();
                    woke = ctx.stats().wakeups > woken_before;
                    if woke {
                        break;
                    }
                }
                // Read before `stop`, which wakes the runner too.
                ctx.stop();
                woke
            })
        };
        let guard = ctx.spawn(strait_streams::delay(Duration::from_secs(60)));
        ctx.run_for(Duration::from_secs(30));
        let woke = poster.join().unwrap();
        assert!(woke, "{backend}: {:?}", ctx.stats());
        drop(guard);
    }
}

/// More registrations than the completion queue holds, each ready at once: on
/// io_uring the kernel cannot post the CQE of every new multishot poll, ends those
/// polls, and the ring arms them again; no readiness is lost on either backend.
#[test]
fn more_ready_registrations_than_the_completion_queue_holds() {
    const SOCKETS: usize = 4500;
    raise_descriptor_limit(SOCKETS as u64 + 500);
    for backend in [Backend::Epoll, Backend::IoUring] {
        let ctx = IoContext::builder().backend(backend).build().unwrap();
        // Unix datagram sockets: they wait on readiness on both backends (UDP on
        // io_uring is completion I/O and registers no poll).
        let dir = std::env::temp_dir().join(format!("strait-cq-{}-{backend}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let sockets: Vec<UnixDatagram> = (0..SOCKETS)
            .map(|i| UnixDatagram::bind(&ctx, dir.join(i.to_string())).unwrap())
            .collect();
        // Every new poll finds its socket writable and posts a CQE.
        ctx.poll();
        let sender = Arc::new(std::os::unix::net::UnixDatagram::unbound().unwrap());
        for &i in &[0, SOCKETS / 2, SOCKETS - 1] {
            let to = dir.join(i.to_string());
            let late = {
                let sender = sender.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    sender.send_to(b"ping", to).unwrap();
                })
            };
            let mut buf = [0u8; 8];
            // Nothing queued yet: the receive waits for readiness.
            let got = ctx.block_on(strait_streams::timeout(
                Duration::from_secs(5),
                sockets[i].recv(&mut buf[..]),
            ));
            assert_eq!(got.unwrap(), 4, "{backend}: socket {i}");
            late.join().unwrap();
        }
        drop(sockets);
        std::fs::remove_dir_all(&dir).unwrap();
        let stats = ctx.stats();
        if backend == Backend::IoUring {
            assert!(stats.rearms > 0, "the kernel ended some polls: {stats:?}");
        }
    }
}

fn raise_descriptor_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit/setrlimit to read and write.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    assert!(
        lim.rlim_cur >= want,
        "RLIMIT_NOFILE hard limit below {want}"
    );
}

/// Several runner threads on one context, sockets made and dropped on all of them:
/// concurrent submission, draining, re-arming and removal on the ring.
#[test]
fn several_runners_share_one_ring_under_churn() {
    const CONNS: usize = 48;
    const TRIPS: usize = 100;
    for backend in [Backend::Epoll, Backend::IoUring] {
        let ctx = Arc::new(IoContext::builder().backend(backend).build().unwrap());
        let listener = Arc::new(TcpListener::bind(&*ctx, "127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let server = {
            let listener = listener.clone();
            ctx.spawn(async move {
                for _ in 0..CONNS {
                    let (mut conn, _) = listener.accept().await?;
                    strait_streams::spawn(async move {
                        let mut buf = [0u8; 32];
                        loop {
                            match strait_streams::ReadStreamExt::read(&mut conn, &mut buf[..]).await
                            {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if write_all(&mut conn, &buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    })
                    .detach();
                }
                Ok::<_, std::io::Error>(())
            })
        };
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                let handle = ctx.handle();
                ctx.spawn(async move {
                    let mut conn = TcpStream::connect(&handle, addr).await?;
                    for t in 0..TRIPS {
                        let msg = [(i + t) as u8; 32];
                        write_all(&mut conn, &msg[..]).await?;
                        let mut back = [0u8; 32];
                        read_exact(&mut conn, &mut back[..]).await?;
                        assert_eq!(back, msg);
                    }
                    Ok::<_, std::io::Error>(())
                })
            })
            .collect();
        let runners: Vec<_> = (0..3)
            .map(|_| {
                let ctx = ctx.clone();
                std::thread::spawn(move || ctx.run_for(Duration::from_secs(30)))
            })
            .collect();
        ctx.block_on(async {
            for c in clients {
                c.await.unwrap().unwrap();
            }
            server.await.unwrap().unwrap();
        });
        // Idle now: every runner leaves long before its limit (each wakes the next).
        let t = std::time::Instant::now();
        for r in runners {
            r.join().unwrap();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{backend}: {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn a_single_threaded_ping_pong_wakes_nobody_through_the_eventfd() {
    // The runner's own wake-ups (a read's completion waking its task) are queued
    // locally: no cross-thread wake-up (eventfd write) per round trip, on either
    // backend.
    for backend in [Backend::Epoll, Backend::IoUring] {
        let ctx = IoContext::builder()
            .backend(backend)
            .single_threaded(true)
            .build()
            .unwrap();
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        const TRIPS: usize = 200;
        let server = ctx.spawn(async move {
            let (mut conn, _) = listener.accept().await?;
            let mut buf = [0u8; 16];
            for _ in 0..TRIPS {
                read_exact(&mut conn, &mut buf[..]).await?;
                write_all(&mut conn, &buf[..]).await?;
            }
            Ok::<_, std::io::Error>(())
        });
        let handle = ctx.handle();
        let before = ctx.block_on(async {
            let mut conn = TcpStream::connect(&handle, addr).await.unwrap();
            let before = handle.stats();
            let mut buf = [7u8; 16];
            for _ in 0..TRIPS {
                let msg = buf;
                write_all(&mut conn, &msg[..]).await.unwrap();
                read_exact(&mut conn, &mut buf[..]).await.unwrap();
            }
            before
        });
        ctx.block_on(server).unwrap().unwrap();
        let wakeups = ctx.stats().wakeups - before.wakeups;
        assert!(
            wakeups <= 2,
            "{backend}: {wakeups} wake-ups in {TRIPS} round trips"
        );
    }
}
