//! A real SMTP server (`mailin-embedded`) on an ephemeral loopback port that
//! keeps every message it accepts.

use std::{
    io,
    net::{IpAddr, SocketAddr, TcpListener},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// One message as the server received it.
#[derive(Debug, Clone, Default)]
pub struct ReceivedMail {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// Everything after `DATA`: headers and body.
    pub data: Vec<u8>,
}

impl ReceivedMail {
    /// The message as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.data.clone()).expect("the message is UTF-8")
    }
}

/// A running server and what it received so far.
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl SmtpServer {
    /// Starts a server on `127.0.0.1:0`, serving on a thread of its own until
    /// the test process ends.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler = Collector {
            received: received.clone(),
            current: ReceivedMail::default(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test.localhost")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_tcp_listener(listener);
        thread::spawn(move || {
            // The error type is not `Send`; a server that stops shows up as
            // missing messages in the test anyway.
            let _ = server.serve();
        });
        Self { addr, received }
    }

    /// `smtp://127.0.0.1:PORT`, plain SMTP.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Messages received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().expect("not poisoned").clone()
    }

    /// Waits (briefly) until `count` messages have arrived.
    pub fn wait_for(&self, count: usize) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The per-connection handler: collects `DATA` and files it at the end.
#[derive(Clone)]
struct Collector {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    current: ReceivedMail,
}

impl Handler for Collector {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.current = ReceivedMail {
            from: from.to_owned(),
            ..ReceivedMail::default()
        };
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        self.current.to.push(to.to_owned());
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = std::mem::take(&mut self.current);
        self.received.lock().expect("not poisoned").push(mail);
        response::OK
    }
}
