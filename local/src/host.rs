//! Which address the emulator listens on: loopback unless the user says
//! otherwise.

use std::net::{IpAddr, Ipv4Addr};

/// Parses a host to listen on: an IPv4 or IPv6 address (with or without
/// brackets: `::1`, `[::1]`) or `localhost` (`127.0.0.1`). An address that
/// is not loopback (`0.0.0.0`, a LAN address) is refused unless
/// `allow_non_loopback`: the emulator accepts the well-known example
/// credentials and keeps what it is sent, so it is not for a network.
pub fn parse_host(host: &str, allow_non_loopback: bool) -> Result<IpAddr, String> {
    let h = host.trim();
    let ip: IpAddr = if h.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        let bare = h
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(h);
        bare.parse()
            .map_err(|_| format!("`{host}` is not an IP address (e.g. 127.0.0.2, ::1 or [::1])"))?
    };
    check_loopback(ip, allow_non_loopback)?;
    Ok(ip)
}

/// Refuses an address that is not loopback unless `allow_non_loopback`.
pub fn check_loopback(ip: IpAddr, allow_non_loopback: bool) -> Result<(), String> {
    if ip.is_loopback() || allow_non_loopback {
        Ok(())
    } else {
        Err(format!(
            "{ip} is not a loopback address; the emulator accepts the example credentials \
             of its documentation from anyone who can reach it, so it listens on loopback \
             only unless --allow-non-loopback is given"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_accepted_others_need_the_flag() {
        for (h, want) in [
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.2", "127.0.0.2"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("localhost", "127.0.0.1"),
        ] {
            assert_eq!(parse_host(h, false).unwrap().to_string(), want, "{h}");
        }
        for h in ["0.0.0.0", "192.168.1.5", "::", "[fe80::1]"] {
            let e = parse_host(h, false).unwrap_err();
            assert!(e.contains("not a loopback address"), "{h}: {e}");
            assert!(e.contains("--allow-non-loopback"), "{h}: {e}");
            assert!(parse_host(h, true).is_ok(), "{h}");
        }
        assert!(parse_host("example.com", true)
            .unwrap_err()
            .contains("not an IP address"));
    }
}
