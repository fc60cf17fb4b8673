//! CONNACK, the broker's answer to CONNECT (MQTT 3.1.1 §3.2; MQTT 5 §3.2): its length,
//! its return (reason) code, and in MQTT 5 every property it may carry, read into a
//! [`Connack`] the sessions honour (Receive Maximum, Server Keep Alive, Maximum QoS,
//! Maximum Packet Size, and what the broker says it does not support).

use super::header;
use crate::load::error::LinkError;

/// The most a CONNACK body may hold here. MQTT 5 properties (user properties, a reason
/// string) can make it long, but a broker that announces more than this is not one to
/// allocate for.
pub const MAX_CONNACK_BODY: usize = 64 * 1024;

/// The body length of a CONNACK from its fixed header: type 2, then the remaining length,
/// a variable byte integer of one to four bytes (§2.1.4: 2 in 3.1.1; 3 and more in 5,
/// with properties, past 127 once they are long). `Ok(None)` while the length's bytes
/// have not all arrived.
pub fn connack_body_len(head: &[u8]) -> Result<Option<usize>, LinkError> {
    if head.first().is_some_and(|&b| b != 0x20) {
        return Err(LinkError::Protocol(head.to_vec()));
    }
    let Some((len, _)) = header::decode_varint(head.get(1..).unwrap_or_default())? else {
        return Ok(None);
    };
    if !(2..=MAX_CONNACK_BODY).contains(&len) {
        return Err(LinkError::Protocol(head.to_vec()));
    }
    Ok(Some(len))
}

/// A CONNACK body: acknowledge flags (session present), then the return or reason code;
/// `Ok` for code 0.
pub fn connack_result(body: &[u8]) -> Result<(), LinkError> {
    parse(body).map(drop)
}

/// What an accepting CONNACK said. `None` (or 0) for a property the broker did not
/// send, which means the spec's default: no limit, everything available (§3.2.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connack {
    /// The broker kept a session for this client id (§3.2.2.1.1).
    pub session_present: bool,
    /// Session Expiry Interval (0x11), seconds.
    pub session_expiry: Option<u32>,
    /// Receive Maximum (0x21): QoS 1/2 publishes the broker takes unacknowledged.
    pub receive_maximum: Option<u16>,
    /// Maximum QoS (0x24): 0 or 1 (absent: 2).
    pub maximum_qos: Option<u8>,
    /// Retain Available (0x25).
    pub retain_available: Option<bool>,
    /// Maximum Packet Size (0x27): the largest packet, in bytes, the broker accepts.
    pub maximum_packet_size: Option<u32>,
    /// Assigned Client Identifier (0x12).
    pub assigned_client_id: Option<String>,
    /// Topic Alias Maximum (0x22); twin sends no aliases, so any value suits it.
    pub topic_alias_maximum: Option<u16>,
    /// Reason String (0x1F).
    pub reason_string: Option<String>,
    /// Wildcard Subscription Available (0x28).
    pub wildcard_available: Option<bool>,
    /// Subscription Identifiers Available (0x29); twin sends none.
    pub subscription_ids_available: Option<bool>,
    /// Shared Subscription Available (0x2A).
    pub shared_available: Option<bool>,
    /// Server Keep Alive (0x13): replaces the keep-alive the client asked for.
    pub server_keep_alive: Option<u16>,
    /// User Properties (0x26) seen (their text is not kept).
    pub user_properties: u32,
}

/// Read a CONNACK body (after the fixed header). A non-zero code is
/// [`LinkError::Refused`]: a 3.1.1 broker answers an MQTT 5 CONNECT with a two-byte body
/// and code 1, so the code is read before any property. A body longer than two bytes
/// carries MQTT 5 properties; anything that breaks §3.2.2.3 (an unknown identifier, a
/// property twice, a value out of range, a length past the body) is an error.
pub fn parse(body: &[u8]) -> Result<Connack, LinkError> {
    let bad = || LinkError::Protocol(body[..body.len().min(16)].to_vec());
    let (&flags, &code) = match body {
        [f, c, ..] => (f, c),
        _ => return Err(bad()),
    };
    if code != 0 {
        return Err(LinkError::Refused { code });
    }
    let mut c = Connack {
        session_present: flags & 1 == 1,
        ..Connack::default()
    };
    if body.len() == 2 {
        return Ok(c);
    }
    let (len, used) = header::decode_varint(&body[2..])?.ok_or_else(bad)?;
    let props = body
        .get(2 + used..)
        .filter(|p| p.len() == len)
        .ok_or_else(bad)?;
    let mut r = Reader { b: props, at: 0 };
    while r.at < props.len() {
        property(&mut r, &mut c).ok_or_else(bad)?;
    }
    Ok(c)
}

/// The properties' bytes and where the next one starts.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Binary data, or a UTF-8 string when `text` (§1.5.4, §1.5.6).
    fn bytes(&mut self) -> Option<&[u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_string)
    }
    /// A byte that must be 0 or 1.
    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// Set `slot` once: a second value is a protocol error (§3.2.2.3).
fn once<T>(slot: &mut Option<T>, v: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(v?);
    Some(())
}

/// One property into `c`; `None` when it breaks the spec.
fn property(r: &mut Reader<'_>, c: &mut Connack) -> Option<()> {
    // Identifiers are variable byte integers; every CONNACK one fits in a byte.
    match r.byte()? {
        0x11 => once(&mut c.session_expiry, r.u32()),
        0x21 => once(&mut c.receive_maximum, r.u16().filter(|&v| v > 0)),
        0x24 => once(&mut c.maximum_qos, r.byte().filter(|&q| q <= 1)),
        0x25 => once(&mut c.retain_available, r.flag()),
        0x27 => once(&mut c.maximum_packet_size, r.u32().filter(|&v| v > 0)),
        0x12 => once(&mut c.assigned_client_id, r.string()),
        0x22 => once(&mut c.topic_alias_maximum, r.u16()),
        0x1F => once(&mut c.reason_string, r.string()),
        0x28 => once(&mut c.wildcard_available, r.flag()),
        0x29 => once(&mut c.subscription_ids_available, r.flag()),
        0x2A => once(&mut c.shared_available, r.flag()),
        0x13 => once(&mut c.server_keep_alive, r.u16()),
        0x26 => {
            r.string()?;
            r.string()?;
            c.user_properties = c.user_properties.saturating_add(1);
            Some(())
        }
        // Response Information, Server Reference, Authentication Method: strings;
        // Authentication Data: binary. Read and checked, not used (twin does no
        // enhanced authentication and follows no redirection).
        0x1A | 0x1C | 0x15 => r.string().map(drop),
        0x16 => r.bytes().map(drop),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connacks_are_read_by_the_spec() {
        // 3.1.1: 0x20, length 2, flags, code; MQTT 5 adds properties (length 3 and up).
        assert_eq!(connack_body_len(&[0x20, 2]).unwrap(), Some(2));
        assert_eq!(connack_body_len(&[0x20, 3]).unwrap(), Some(3));
        assert!(connack_body_len(&[0x30, 2]).is_err());
        assert!(connack_body_len(&[0x20, 1]).is_err());
        // Past 127 bytes the length takes two bytes: 0x96 0x01 is 22 + 128 = 150.
        assert_eq!(connack_body_len(&[0x20, 0x96]).unwrap(), None);
        assert_eq!(connack_body_len(&[0x20, 0x96, 0x01]).unwrap(), Some(150));
        // A length past the limit (or past four bytes) is refused, never allocated.
        assert!(connack_body_len(&[0x20, 0xff, 0xff, 0x7f]).is_err());
        assert!(connack_body_len(&[0x20, 0x80, 0x80, 0x80, 0x80]).is_err());
        assert!(connack_result(&[0, 0]).is_ok());
        assert!(matches!(
            connack_result(&[0, 5]),
            Err(LinkError::Refused { code: 5 })
        ));
        assert_eq!(crate::load::error::connack_reason(5), "not authorized");
        assert_eq!(crate::load::error::connack_reason(0x87), "not authorized");
    }

    #[test]
    fn mosquittos_announcements_are_read() {
        // What Mosquitto 2.0.11 sends an MQTT 5 client (the bodies after `20 LEN`):
        // default; max_inflight_messages 1; max_keepalive 10; max_qos 1;
        // max_packet_size 200.
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let c = parse(&hex("00000622000a210014")).unwrap();
        assert_eq!(
            (c.topic_alias_maximum, c.receive_maximum),
            (Some(10), Some(20))
        );
        assert_eq!(
            parse(&hex("00000622000a210001")).unwrap().receive_maximum,
            Some(1)
        );
        let c = parse(&hex("00000922000a13000a210014")).unwrap();
        assert_eq!(c.server_keep_alive, Some(10));
        assert_eq!(
            parse(&hex("00000822000a2100142401")).unwrap().maximum_qos,
            Some(1)
        );
        let c = parse(&hex("00000b22000a27000000c8210014")).unwrap();
        assert_eq!(c.maximum_packet_size, Some(200));
        // ejabberd: Shared Subscription Available 0; and the rest of the table.
        let c = parse(&hex("0100022a00")).unwrap();
        assert_eq!((c.session_present, c.shared_available), (true, Some(false)));
        let c = parse(&hex("00001625002800290012000261621f00017826000161000162")).unwrap();
        assert_eq!(
            (
                c.retain_available,
                c.wildcard_available,
                c.subscription_ids_available
            ),
            (Some(false), Some(false), Some(false))
        );
        assert_eq!(c.assigned_client_id.as_deref(), Some("ab"));
        assert_eq!(c.reason_string.as_deref(), Some("x"));
        assert_eq!(c.user_properties, 1);
    }

    #[test]
    fn broken_properties_are_errors_not_panics() {
        for body in [
            &[0x00, 0x00, 0x03, 0x21, 0x00][..], // Receive Maximum cut short
            &[0x00, 0x00, 0x03, 0x21, 0x00, 0x00], // Receive Maximum 0
            &[0x00, 0x00, 0x02, 0x24, 0x02],     // Maximum QoS 2 is not allowed
            &[0x00, 0x00, 0x02, 0x25, 0x07],     // a flag of 7
            &[0x00, 0x00, 0x04, 0x24, 0x00, 0x24, 0x01], // Maximum QoS twice
            &[0x00, 0x00, 0x02, 0x01, 0x00],     // Payload Format Indicator: not CONNACK's
            &[0x00, 0x00, 0x05, 0x1F, 0x00, 0x09, b'a', b'b'], // string past its end
            &[0x00, 0x00, 0x09],                 // property length past the body
            &[0x00, 0x00, 0x00, 0x00],           // bytes after the properties
            &[0x00],                             // no code
        ] {
            assert!(
                matches!(parse(body), Err(LinkError::Protocol(_))),
                "{body:02x?} gave {:?}",
                parse(body)
            );
        }
        // A refusal is read before the properties: a 3.1.1 broker's answer to MQTT 5.
        assert!(matches!(
            parse(&[0, 1]),
            Err(LinkError::Refused { code: 1 })
        ));
        assert!(matches!(
            parse(&[0, 0x9B, 0xFF]),
            Err(LinkError::Refused { code: 0x9B })
        ));
    }
}
