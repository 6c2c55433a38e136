//! A TCP forwarder on loopback that a test can unplug: while pulled, every
//! open connection is cut and new ones are closed at once, as when the
//! database host goes away; plugged back, it forwards again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Plug {
    pub addr: SocketAddr,
    pulled: Arc<AtomicBool>,
    /// Bumped on every pull: connections of an older generation end.
    generation: watch::Sender<u64>,
    count: Arc<AtomicU64>,
}

impl Plug {
    pub async fn start(target: SocketAddr) -> Plug {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind plug");
        let addr = listener.local_addr().unwrap();
        let pulled = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let count = Arc::new(AtomicU64::new(0));
        let (p, g, n) = (pulled.clone(), generation.clone(), count.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if p.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                n.fetch_add(1, Ordering::SeqCst);
                let mut cut = g.subscribe();
                let born = *cut.borrow();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|g| *g != born) => {}
                    }
                });
            }
        });
        Plug {
            addr,
            pulled,
            generation,
            count,
        }
    }

    pub fn pull(&self) {
        self.pulled.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn plug_in(&self) {
        self.pulled.store(false, Ordering::SeqCst);
    }

    /// Connections forwarded so far.
    pub fn connections(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}
