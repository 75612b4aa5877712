//! [`ToSocketAddr`]: what `bind` and `connect` accept as an address.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// An IP socket address given in any form that converts without a lookup: a
/// [`SocketAddr`], an `(IpAddr, u16)` pair (or `Ipv4Addr`/`Ipv6Addr`), a numeric
/// `("127.0.0.1", 8080)` pair, or a literal such as `"127.0.0.1:8080"` or
/// `"[::1]:8080"`. Host names need the [`Resolver`](crate::Resolver) (a lookup blocks;
/// the resolver runs it off the reactor), so they are refused here.
#[doc(alias = "ToSocketAddrs")]
pub trait ToSocketAddr {
    /// The address.
    ///
    /// # Errors
    /// `InvalidInput` for a string that is not a numeric address.
    fn to_socket_addr(&self) -> io::Result<SocketAddr>;
}

impl ToSocketAddr for SocketAddr {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(*self)
    }
}

impl ToSocketAddr for SocketAddrV4 {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok((*self).into())
    }
}

impl ToSocketAddr for SocketAddrV6 {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok((*self).into())
    }
}

macro_rules! ip_port {
    ($($ip:ty),*) => {$(
        impl ToSocketAddr for ($ip, u16) {
            fn to_socket_addr(&self) -> io::Result<SocketAddr> {
                Ok(SocketAddr::new(self.0.into(), self.1))
            }
        }
    )*};
}

ip_port!(IpAddr, Ipv4Addr, Ipv6Addr);

impl ToSocketAddr for str {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        self.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{self:?} is not a numeric ip:port address (resolve host names with Resolver)"
                ),
            )
        })
    }
}

impl ToSocketAddr for (&str, u16) {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        let ip: IpAddr = self.0.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{:?} is not a numeric IP address (resolve host names with Resolver)",
                    self.0
                ),
            )
        })?;
        Ok(SocketAddr::new(ip, self.1))
    }
}

impl ToSocketAddr for String {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        self.as_str().to_socket_addr()
    }
}

impl<T: ToSocketAddr + ?Sized> ToSocketAddr for &T {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        (**self).to_socket_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_forms_convert_and_host_names_are_refused() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!("127.0.0.1:80".to_socket_addr().unwrap(), v4);
        assert_eq!(String::from("127.0.0.1:80").to_socket_addr().unwrap(), v4);
        assert_eq!((Ipv4Addr::LOCALHOST, 80).to_socket_addr().unwrap(), v4);
        assert_eq!(
            (IpAddr::from(Ipv4Addr::LOCALHOST), 80)
                .to_socket_addr()
                .unwrap(),
            v4
        );
        assert_eq!(
            (Ipv6Addr::LOCALHOST, 80).to_socket_addr().unwrap(),
            "[::1]:80".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(v4.to_socket_addr().unwrap(), v4);
        assert_eq!(("127.0.0.1", 80).to_socket_addr().unwrap(), v4);
        assert_eq!(
            ("localhost", 80).to_socket_addr().unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let err = "localhost:80".to_socket_addr().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
