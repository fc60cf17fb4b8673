use super::*;
use crate::adapter::serial::topics::{Topics, is_bridge_topic};

fn line(s: &str) -> Frame {
    Frame::Line(s.as_bytes().to_vec())
}

#[test]
fn lines_split_across_reads_come_out_whole() {
    let mut f = LineFramer::new(64);
    assert_eq!(f.push(b"{\"temperature\":2"), vec![]);
    assert_eq!(f.push(b"1.5}"), vec![]);
    assert_eq!(
        f.push(b"\n{\"relay\":true}\n{\"hum"),
        vec![line("{\"temperature\":21.5}"), line("{\"relay\":true}")]
    );
    assert_eq!(f.push(b"idity\":40}\n"), vec![line("{\"humidity\":40}")]);
    // One byte at a time.
    let mut out = Vec::new();
    for b in b"{\"a\":1}\n" {
        out.extend(f.push(&[*b]));
    }
    assert_eq!(out, vec![line("{\"a\":1}")]);
}

#[test]
fn crlf_ends_a_line_and_empty_lines_are_skipped() {
    let mut f = LineFramer::new(64);
    assert_eq!(
        f.push(b"{\"a\":1}\r\n\r\n\n{\"b\":2}\r"),
        vec![line("{\"a\":1}")]
    );
    assert_eq!(f.push(b"\n"), vec![line("{\"b\":2}")]);
    // A '\r' inside a line is the device's business.
    assert_eq!(f.push(b"a\rb\n"), vec![line("a\rb")]);
}

#[test]
fn over_long_lines_are_measured_not_kept() {
    let mut f = LineFramer::new(8);
    // Exactly at the limit, with or without '\r': a line.
    assert_eq!(f.push(b"12345678\n"), vec![line("12345678")]);
    assert_eq!(f.push(b"12345678\r\n"), vec![line("12345678")]);
    // One over: too long, even when the '\r' slack was used.
    assert_eq!(f.push(b"123456789\n"), vec![Frame::TooLong(9)]);
    assert_eq!(f.push(b"123456789\r\n"), vec![Frame::TooLong(9)]);
    // A long line over many reads: counted to its end, the memory stays bounded.
    for _ in 0..1000 {
        assert_eq!(f.push(&[b'x'; 100]), vec![]);
        assert!(f.buf.len() <= 9);
    }
    assert_eq!(
        f.push(b"xx\n{\"ok\":1}\n"),
        vec![Frame::TooLong(100_002), line("{\"ok\":1}")]
    );
    // Binary junk is a line like any other; the adapter judges it.
    assert_eq!(
        f.push(b"\xff\xfe\x00\n"),
        vec![Frame::Line(vec![0xff, 0xfe, 0])]
    );
}

#[test]
fn a_line_cut_by_the_port_closing_is_forgotten() {
    let mut f = LineFramer::new(8);
    f.push(b"{\"a\":");
    assert_eq!(f.reset(), 5);
    assert_eq!(f.push(b"1}\n"), vec![line("1}")]);
    f.push(&[b'x'; 20]);
    assert_eq!(f.reset(), 20);
    assert_eq!(f.reset(), 0);
}

#[test]
fn commands_become_one_line() {
    assert_eq!(
        command_line(b"{ \"set\" : {\n  \"relay\": true\n} }").as_deref(),
        Ok(&b"{\"set\":{\"relay\":true}}\n"[..])
    );
    assert_eq!(command_line(b"reboot\r\n").as_deref(), Ok(&b"reboot\n"[..]));
    assert!(command_line(b"two\nlines").is_err());
    assert!(command_line(b"\xff").is_err());
}

#[test]
fn bridge_topics() {
    let t = Topics::new("home", "bench");
    assert_eq!(t.telemetry, "twin/home/bench/serial/telemetry");
    assert_eq!(t.status, "twin/home/bench/serial/status");
    assert_eq!(t.cmd, "twin/home/bench/serial/cmd");
    assert!(is_bridge_topic(&t.telemetry) && is_bridge_topic(&t.cmd));
    assert!(!is_bridge_topic("twin/home/bench/telemetry"));
    assert!(!is_bridge_topic("sensors/bench/serial/telemetry"));
}
