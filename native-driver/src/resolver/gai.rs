//! `getaddrinfo`/`getnameinfo` with the papers' resolver flags, as blocking calls that
//! the resolver runs on its own threads.

use std::ffi::{CStr, CString};
use std::io;
use std::net::SocketAddr;
use std::ptr;

/// Flags of a forward lookup (the `getaddrinfo` hints of Asio's and Corosio's
/// `resolver::flags`). Combine with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ResolveFlags(i32);

impl ResolveFlags {
    /// No flags.
    pub const NONE: ResolveFlags = ResolveFlags(0);
    /// Addresses for binding a listening socket (`AI_PASSIVE`): with no host, the
    /// wildcard address.
    pub const PASSIVE: ResolveFlags = ResolveFlags(libc::AI_PASSIVE);
    /// Also return the host's canonical name (`AI_CANONNAME`).
    pub const CANONICAL_NAME: ResolveFlags = ResolveFlags(libc::AI_CANONNAME);
    /// The host must be a numeric address; no name lookup (`AI_NUMERICHOST`).
    pub const NUMERIC_HOST: ResolveFlags = ResolveFlags(libc::AI_NUMERICHOST);
    /// The service must be a port number; no service lookup (`AI_NUMERICSERV`).
    pub const NUMERIC_SERVICE: ResolveFlags = ResolveFlags(libc::AI_NUMERICSERV);
    /// Only address families configured on this machine (`AI_ADDRCONFIG`).
    pub const ADDRESS_CONFIGURED: ResolveFlags = ResolveFlags(libc::AI_ADDRCONFIG);
    /// IPv4 results as IPv4-mapped IPv6 when IPv6 is asked for (`AI_V4MAPPED`).
    pub const V4_MAPPED: ResolveFlags = ResolveFlags(libc::AI_V4MAPPED);
    /// With `V4_MAPPED`: both IPv6 and mapped IPv4 results (`AI_ALL`).
    pub const ALL_MATCHING: ResolveFlags = ResolveFlags(libc::AI_ALL);

    /// `true` when every flag of `other` is set here.
    pub fn contains(self, other: ResolveFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for ResolveFlags {
    type Output = ResolveFlags;
    fn bitor(self, rhs: ResolveFlags) -> ResolveFlags {
        ResolveFlags(self.0 | rhs.0)
    }
}

/// The answer of a forward lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Every address, in the resolver's preference order, without duplicates.
    pub addrs: Vec<SocketAddr>,
    /// The canonical host name, when [`ResolveFlags::CANONICAL_NAME`] asked for it.
    pub canonical_name: Option<String>,
}

/// A `getaddrinfo` failure as an `io::Error` with the resolver's message.
fn gai_error(code: i32, what: &str) -> io::Error {
    if code == libc::EAI_SYSTEM {
        return io::Error::last_os_error();
    }
    let kind = match code {
        libc::EAI_NONAME | libc::EAI_NODATA | libc::EAI_FAMILY => io::ErrorKind::NotFound,
        libc::EAI_SERVICE | libc::EAI_BADFLAGS | libc::EAI_SOCKTYPE => io::ErrorKind::InvalidInput,
        libc::EAI_AGAIN => io::ErrorKind::TimedOut,
        libc::EAI_MEMORY => io::ErrorKind::OutOfMemory,
        _ => io::ErrorKind::Other,
    };
    // SAFETY: gai_strerror returns a static C string for any code.
    let msg = unsafe { CStr::from_ptr(libc::gai_strerror(code)) };
    io::Error::new(kind, format!("{what}: {}", msg.to_string_lossy()))
}

fn c_string(s: Option<&str>) -> io::Result<Option<CString>> {
    s.map(CString::new)
        .transpose()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// Blocking forward lookup of stream-socket addresses.
pub(super) fn lookup(
    host: Option<&str>,
    service: Option<&str>,
    flags: ResolveFlags,
) -> io::Result<Resolution> {
    let what = format!(
        "lookup of {}:{}",
        host.unwrap_or("*"),
        service.unwrap_or("*")
    );
    let (c_host, c_service) = (c_string(host)?, c_string(service)?);
    // SAFETY: an all-zero addrinfo is the documented "no hints" value; fields are set
    // below.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = flags.0;
    let mut list: *mut libc::addrinfo = ptr::null_mut();
    // SAFETY: the strings are NUL-terminated (or null), `hints` is valid, and `list`
    // receives a list that we free below.
    let rc = unsafe {
        libc::getaddrinfo(
            c_host.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
            c_service.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut list,
        )
    };
    if rc != 0 {
        return Err(gai_error(rc, &what));
    }
    let mut out = Resolution::default();
    let mut node = list;
    while !node.is_null() {
        // SAFETY: `node` walks the list getaddrinfo returned, which stays valid until
        // freeaddrinfo below.
        let entry = unsafe { &*node };
        if out.canonical_name.is_none() && !entry.ai_canonname.is_null() {
            // SAFETY: a non-null ai_canonname is a NUL-terminated string in the list.
            let name = unsafe { CStr::from_ptr(entry.ai_canonname) };
            out.canonical_name = Some(name.to_string_lossy().into_owned());
        }
        // SAFETY: `ai_addr` points to `ai_addrlen` bytes of a socket address.
        let addr = unsafe {
            socket2::SockAddr::try_init(|storage, len| {
                let n =
                    (entry.ai_addrlen as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
                ptr::copy_nonoverlapping(entry.ai_addr.cast::<u8>(), storage.cast::<u8>(), n);
                *len = n as libc::socklen_t;
                Ok(())
            })
        }
        .ok()
        .and_then(|((), a)| a.as_socket());
        if let Some(addr) = addr {
            if !out.addrs.contains(&addr) {
                out.addrs.push(addr);
            }
        }
        node = entry.ai_next;
    }
    // SAFETY: `list` came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(out)
}

/// Blocking reverse lookup (`getnameinfo` with `NI_NAMEREQD`).
pub(super) fn reverse(addr: SocketAddr) -> io::Result<String> {
    let sa: socket2::SockAddr = addr.into();
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `sa` is a valid sockaddr of `sa.len()` bytes; `host` is a writable buffer
    // of the length passed; the service buffer is null with length 0.
    let rc = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        let err = gai_error(rc, &format!("reverse lookup of {addr}"));
        // No name for the address is "not found" whatever code the resolver used.
        return Err(io::Error::new(io::ErrorKind::NotFound, err.to_string()));
    }
    // SAFETY: getnameinfo wrote a NUL-terminated string into `host`.
    let name = unsafe { CStr::from_ptr(host.as_ptr()) };
    Ok(name.to_string_lossy().into_owned())
}
