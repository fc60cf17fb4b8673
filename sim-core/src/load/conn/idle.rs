//! Holding an idle session: a PINGREQ every half keep-alive (the broker's Server Keep
//! Alive when it sent one), each PINGRESP read into a 4-byte buffer on the future's own
//! state, so a held session owns no heap buffer beyond what tokio needs for the socket.
//! A DISCONNECT from the broker ends the hold with its reason code.

use crate::load::codec::ack::PINGREQ;
use crate::load::dial::Stream;
use crate::load::error::LinkError;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;
use tokio::time::Instant;

/// Hold an open session until `release` turns true: a PINGREQ every half keep-alive
/// (none when it is 0), each answered by a PINGRESP before the next is due. Returns
/// `Ok` when released; an error when the session dropped.
pub async fn hold(
    stream: &mut Stream,
    keep_alive_s: u16,
    release: &mut watch::Receiver<bool>,
) -> Result<(), LinkError> {
    let period = Duration::from_millis(u64::from(keep_alive_s) * 500);
    let mut next_ping = (keep_alive_s > 0).then(|| Instant::now() + period);
    // PINGREQs sent and not yet answered, and how much of a PINGRESP has arrived.
    let mut unanswered = 0u8;
    let mut partial = false;
    let mut buf = [0u8; 4];
    loop {
        tokio::select! {
            // A closed sender releases too: nobody is left to hold the session for. (The
            // borrow `wait_for` returns is dropped here: it must not live across an await.)
            _ = async { drop(release.wait_for(|r| *r).await) } => return Ok(()),
            n = stream.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Err(LinkError::Closed);
                }
                for (i, &b) in buf[..n].iter().enumerate() {
                    match (partial, b) {
                        (false, 0xD0) => partial = true,
                        (true, 0x00) => {
                            partial = false;
                            unanswered = unanswered.saturating_sub(1);
                        }
                        // DISCONNECT: its reason code follows a non-zero length (none: 0).
                        (false, 0xE0) => {
                            let code = match buf[..n].get(i + 1) {
                                Some(0) | None => 0,
                                Some(_) => buf[..n].get(i + 2).copied().unwrap_or(0),
                            };
                            return Err(LinkError::Disconnected { code });
                        }
                        _ => return Err(LinkError::Protocol(buf[..n].to_vec())),
                    }
                }
            }
            _ = tokio::time::sleep_until(next_ping.unwrap_or_else(Instant::now)), if next_ping.is_some() => {
                if unanswered > 0 {
                    return Err(LinkError::NoPingResponse);
                }
                stream.write_all(&PINGREQ).await?;
                unanswered += 1;
                next_ping = next_ping.map(|t| t + period);
            }
        }
    }
}
