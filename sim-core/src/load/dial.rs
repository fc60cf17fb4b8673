//! The dialer of every lean session: resolve the broker, connect over TCP (from a chosen
//! source address) or TLS (tokio-rustls, the configuration `mqtts://` brokers get
//! everywhere else), write CONNECT and read CONNACK.
//!
//! It uses [`crate::load::codec`] for the two packets, and the crate's transport only
//! for the broker's [`Endpoint`] (URL, TLS settings, credentials).

use crate::error::RunError;
use crate::load::codec::ack::DISCONNECT;
use crate::load::codec::connack::{self, Connack};
use crate::load::error::LinkError;
use crate::transport::broker::EmbeddedBroker;
use crate::transport::endpoint::{Endpoint, Security};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

/// A session's connection: plain TCP or TLS over it.
pub enum Stream {
    /// `mqtt://`.
    Plain(TcpStream),
    /// `mqtts://`.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// TLS for a session: the client configuration and the name to verify.
#[derive(Clone)]
pub struct Tls {
    /// From the broker's [`Endpoint`].
    pub config: Arc<rustls::ClientConfig>,
    /// The broker's host name (or address) the certificate must match.
    pub server_name: rustls::pki_types::ServerName<'static>,
}

/// Where and how a session connects, kept to connect again.
pub struct Dial {
    /// Broker address.
    pub broker: SocketAddr,
    /// Local address to connect from.
    pub source: Option<IpAddr>,
    /// CONNECT, sent on every (re)connection.
    pub connect: Vec<u8>,
    /// TLS, for `mqtts://`.
    pub tls: Option<Arc<Tls>>,
}

impl Dial {
    /// [`open`] a connection, without Nagle's delay: the load sessions batch their
    /// writes themselves.
    pub async fn open(&self) -> Result<(Stream, Connack), LinkError> {
        open(
            self.broker,
            self.source,
            self.connect.clone(),
            self.tls.as_deref(),
            true,
        )
        .await
    }
}

/// Open a session: a TCP connection to `broker` (from `source`, any port, when given),
/// TLS over it when asked, the CONNECT `packet` written, and a CONNACK with return (or
/// reason) code 0 read back, with what its properties announce.
pub async fn open(
    broker: SocketAddr,
    source: Option<IpAddr>,
    packet: Vec<u8>,
    tls: Option<&Tls>,
    nodelay: bool,
) -> Result<(Stream, Connack), LinkError> {
    let tcp = tcp(broker, source, nodelay).await?;
    let mut stream = secure(tcp, tls).await?;
    let connack = handshake(&mut stream, packet).await?;
    Ok((stream, connack))
}

/// A TCP connection to `broker`, from `source` (any port) when given.
pub async fn tcp(
    broker: SocketAddr,
    source: Option<IpAddr>,
    nodelay: bool,
) -> Result<TcpStream, LinkError> {
    let socket = if broker.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let tcp = socket.connect(broker).await?;
    tcp.set_nodelay(nodelay)?;
    Ok(tcp)
}

/// TLS over `tcp` when asked (the handshake done), else the plain stream.
pub async fn secure(tcp: TcpStream, tls: Option<&Tls>) -> Result<Stream, LinkError> {
    Ok(match tls {
        None => Stream::Plain(tcp),
        // Boxed: the handshake's state is large, and only lives while it runs; inline it
        // would size every held session's future.
        Some(t) => Stream::Tls(Box::new(
            Box::pin(
                tokio_rustls::TlsConnector::from(t.config.clone())
                    .connect(t.server_name.clone(), tcp),
            )
            .await
            .map_err(LinkError::Tls)?,
        )),
    })
}

/// Write the CONNECT `packet` and read the CONNACK back: code 0, with what its
/// properties announce.
pub async fn handshake(stream: &mut Stream, packet: Vec<u8>) -> Result<Connack, LinkError> {
    stream.write_all(&packet).await?;
    drop(packet);
    let eof = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            LinkError::Closed
        } else {
            LinkError::Io(e)
        }
    };
    // The fixed header a byte at a time: its remaining length has one to four bytes.
    let mut head = Vec::with_capacity(5);
    let len = loop {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.map_err(eof)?;
        head.push(b[0]);
        if head.len() >= 2
            && let Some(len) = connack::connack_body_len(&head)?
        {
            break len;
        }
    };
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.map_err(eof)?;
    connack::parse(&body)
}

impl Tls {
    /// The TLS an endpoint asks for (`mqtts://`), or `None` for plain TCP.
    pub fn of(ep: &Endpoint) -> Result<Option<Tls>, RunError> {
        let Some(config) = ep.tls_config() else {
            return Ok(None);
        };
        let server_name = rustls::pki_types::ServerName::try_from(ep.host.clone())
            .map_err(|e| RunError::BadInput(format!("broker host {}: {e}", ep.host)))?;
        Ok(Some(Tls {
            config,
            server_name,
        }))
    }
}

/// End a session cleanly: DISCONNECT, then close our side.
pub async fn close(mut stream: Stream) {
    let _ = stream.write_all(&DISCONNECT).await;
    let _ = stream.shutdown().await;
}

/// The addresses of `host`; a name that does not resolve is [`RunError::Unreachable`].
pub async fn lookup(url: &str, host: &str, port: u16) -> Result<Vec<SocketAddr>, RunError> {
    let unresolved = |detail: String| RunError::Unreachable {
        url: url.to_string(),
        why: format!("name {host} not resolved ({detail})"),
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| unresolved(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(unresolved("no address".into()));
    }
    Ok(addrs)
}

/// The broker's address, of the source addresses' family when they are given. A name
/// that does not resolve makes the broker unreachable, named so (`url` for the error).
pub async fn resolve(
    url: &str,
    host: &str,
    port: u16,
    sources: &[IpAddr],
) -> Result<SocketAddr, RunError> {
    let addrs = lookup(url, host, port).await?;
    let v4 = sources.first().map(IpAddr::is_ipv4);
    addrs
        .iter()
        .find(|a| v4.is_none_or(|v4| a.is_ipv4() == v4))
        .copied()
        .ok_or_else(|| {
            RunError::BadInput(format!(
                "broker host \"{host}\" has no {} address for the source IPs {sources:?}",
                if v4 == Some(false) { "IPv6" } else { "IPv4" }
            ))
        })
}

/// Every source address is of one family and can be bound here, so a typo fails once,
/// up front, not as N failed sessions.
pub fn check_sources(sources: &[IpAddr]) -> Result<(), RunError> {
    if let Some(first) = sources.first()
        && sources.iter().any(|s| s.is_ipv4() != first.is_ipv4())
    {
        return Err(RunError::BadInput(format!(
            "source IPs {sources:?} mix IPv4 and IPv6; give addresses of one family"
        )));
    }
    for &ip in sources {
        let socket = if ip.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }?;
        socket.bind(SocketAddr::new(ip, 0)).map_err(|e| {
            RunError::BadInput(format!(
                "source IP {ip} cannot be bound ({e}): is it an address of this host?"
            ))
        })?;
    }
    Ok(())
}

/// The broker a load run talks to, resolved once for all its sessions.
pub struct Target {
    /// Its URL, for the report.
    pub url: String,
    /// Started inside this process.
    pub embedded: bool,
    /// Host, port, TLS settings and credentials.
    pub ep: Endpoint,
    /// The address every session connects to.
    pub addr: SocketAddr,
    /// TLS for `mqtts://`, shared by the sessions.
    pub tls: Option<Arc<Tls>>,
    /// Keeps an embedded broker running for the run.
    _broker: Option<EmbeddedBroker>,
}

impl Target {
    /// The broker at `url`, or an embedded one (sized for `sessions`) when `None`;
    /// resolved to an address of the `sources`' family.
    pub async fn open(
        url: Option<&str>,
        security: &Security,
        sessions: usize,
        sources: &[IpAddr],
    ) -> Result<Target, RunError> {
        let (embedded, url, broker) = match url {
            Some(u) => (false, u.to_string(), None),
            None => {
                let b = EmbeddedBroker::start(sessions + 16)?;
                (true, b.url(), Some(b))
            }
        };
        let ep = Endpoint::new(&url, security).map_err(RunError::from)?;
        let tls = Tls::of(&ep)?.map(Arc::new);
        let addr = resolve(&url, &ep.host, ep.port, sources).await?;
        Ok(Target {
            url: scenarios::BrokerUrl::redact(&url),
            embedded,
            ep,
            addr,
            tls,
            _broker: broker,
        })
    }

    /// A session's [`Dial`]: this broker, from `source`, with its CONNECT.
    pub fn dial(&self, source: Option<IpAddr>, connect: Vec<u8>) -> Dial {
        Dial {
            broker: self.addr,
            source,
            connect,
            tls: self.tls.clone(),
        }
    }

    /// `broker` in the reports.
    pub fn info(&self) -> crate::report::BrokerInfo {
        crate::report::BrokerInfo {
            url: self.url.clone(),
            embedded: self.embedded,
        }
    }
}

/// A packet the user's settings make impossible (a client id over 65535 bytes), as the
/// run's bad-input error.
pub fn bad_input(e: LinkError) -> RunError {
    RunError::BadInput(e.to_string())
}
