//! Which IP addresses an allowed host may resolve to.
//!
//! The allowlist names hosts; DNS decides where they are. A name on the list
//! that resolves to a loopback, private or link-local address (the cloud
//! metadata service lives at 169.254.169.254) would let the component reach
//! the host machine or the operator's network, so every resolved address —
//! and every IP literal in a URL — is classified here before a connection is
//! made. IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible,
//! SIIT, 6to4, NAT64) are classified by the address they carry.
//!
//! | class | ranges | allowed when |
//! |---|---|---|
//! | public | everything below does not match | always |
//! | loopback | `127.0.0.0/8`, `::1` | loopback test mode (`ExchangeAllowInsecureLoopback=true`) |
//! | private | `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `fec0::/10`, `64:ff9b:1::/48` | `ExchangeAllowPrivateNetworks=true` |
//! | shared (CGNAT) | `100.64.0.0/10` | `ExchangeAllowPrivateNetworks=true` |
//! | unique-local | `fc00::/7` | `ExchangeAllowPrivateNetworks=true` |
//! | link-local | `169.254.0.0/16` (cloud metadata), `fe80::/10` | never |
//! | unspecified | `0.0.0.0/8`, `::` | never |
//! | multicast | `224.0.0.0/4`, `ff00::/8` | never |
//! | broadcast | `255.255.255.255` | never |
//! | documentation | `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20` | never |
//! | benchmarking | `198.18.0.0/15`, `2001:2::/48` | never |
//! | reserved | `192.0.0.0/24`, `192.88.99.0/24`, `240.0.0.0/4`, `100::/64`, `2001::/32` (Teredo), `2001:10::/28`, `2001:20::/28`, `5f00::/16` | never |

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP address is, for the connection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Reachable on the internet: always allowed.
    Public,
    /// The machine itself.
    Loopback,
    /// An RFC 1918 network (or its deprecated IPv6 site-local analogue).
    Private,
    /// Carrier-grade NAT space, `100.64.0.0/10` (RFC 6598).
    Shared,
    /// IPv6 unique-local addresses, `fc00::/7`.
    UniqueLocal,
    /// Link-local addresses, including the cloud metadata service.
    LinkLocal,
    /// `0.0.0.0/8` or `::`.
    Unspecified,
    /// Multicast groups.
    Multicast,
    /// The limited broadcast address.
    Broadcast,
    /// Ranges reserved for documentation.
    Documentation,
    /// Ranges reserved for benchmarking.
    Benchmarking,
    /// Any other special-purpose range that is not globally reachable.
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::Shared => "shared (carrier-grade NAT)",
            AddressClass::UniqueLocal => "unique-local",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Documentation => "documentation",
            AddressClass::Benchmarking => "benchmarking",
            AddressClass::Reserved => "reserved",
        })
    }
}

/// The class of an address and the range that decided it; shown as
/// `loopback address (127.0.0.0/8)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    /// The class.
    pub class: AddressClass,
    /// The range the address falls in (`10.0.0.0/8`); empty for public ones.
    pub range: &'static str,
    /// For an IPv6 form carrying an IPv4 address, the form
    /// (`IPv4-mapped ::ffff:0:0/96`) and the carried address.
    pub carried: Option<(&'static str, Ipv4Addr)>,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} address", self.class)?;
        match (self.range.is_empty(), self.carried) {
            (true, None) => Ok(()),
            (true, Some((form, v4))) => write!(f, " ({v4} as {form})"),
            (false, None) => write!(f, " ({})", self.range),
            (false, Some((form, v4))) => write!(f, " ({v4} in {}, as {form})", self.range),
        }
    }
}

/// Which classes a request may connect to, from the policy's two flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressRule {
    /// Loopback test mode: loopback addresses are allowed.
    pub allow_loopback: bool,
    /// Private networks: private, shared and unique-local addresses are
    /// allowed.
    pub allow_private: bool,
}

impl AddressRule {
    /// Whether an address of `class` may be connected to.
    pub fn permits(&self, class: AddressClass) -> bool {
        match class {
            AddressClass::Public => true,
            AddressClass::Loopback => self.allow_loopback,
            AddressClass::Private | AddressClass::Shared | AddressClass::UniqueLocal => {
                self.allow_private
            }
            AddressClass::LinkLocal
            | AddressClass::Unspecified
            | AddressClass::Multicast
            | AddressClass::Broadcast
            | AddressClass::Documentation
            | AddressClass::Benchmarking
            | AddressClass::Reserved => false,
        }
    }

    /// `Ok` with the classification when `ip` may be connected to, `Err`
    /// with it when not.
    pub fn check(&self, ip: IpAddr) -> Result<Classified, Classified> {
        let classified = classify(ip);
        if self.permits(classified.class) {
            Ok(classified)
        } else {
            Err(classified)
        }
    }
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.allow_loopback, self.allow_private) {
            (false, false) => "public addresses",
            (true, false) => "public and loopback addresses",
            (false, true) => "public and private-network addresses",
            (true, true) => "public, loopback and private-network addresses",
        })
    }
}

/// What an operator can do about a refused address of `class`.
pub fn fix_for(class: AddressClass) -> &'static str {
    match class {
        AddressClass::Public => "nothing: public addresses are allowed",
        AddressClass::Loopback => {
            "for a local test against an emulator set ExchangeAllowInsecureLoopback=true; otherwise correct the host name or its DNS record"
        }
        AddressClass::Private | AddressClass::Shared | AddressClass::UniqueLocal => {
            "if this server is on your own network, set ExchangeAllowPrivateNetworks=true; otherwise correct the host name or its DNS record"
        }
        _ => {
            "no setting allows this address; correct the host name or its DNS record (a name that resolves here is misconfigured or hostile)"
        }
    }
}

use AddressClass as C;

/// IPv4 special-purpose ranges: (network, prefix length, class, text).
/// The limited broadcast address comes before `240.0.0.0/4`, which holds it.
const V4: &[(u32, u8, AddressClass, &str)] = &[
    (0x0000_0000, 8, C::Unspecified, "0.0.0.0/8"),
    (0x0a00_0000, 8, C::Private, "10.0.0.0/8"),
    (0x6440_0000, 10, C::Shared, "100.64.0.0/10"),
    (0x7f00_0000, 8, C::Loopback, "127.0.0.0/8"),
    (0xa9fe_0000, 16, C::LinkLocal, "169.254.0.0/16"),
    (0xac10_0000, 12, C::Private, "172.16.0.0/12"),
    (0xc000_0000, 24, C::Reserved, "192.0.0.0/24"),
    (0xc000_0200, 24, C::Documentation, "192.0.2.0/24"),
    (0xc058_6300, 24, C::Reserved, "192.88.99.0/24"),
    (0xc0a8_0000, 16, C::Private, "192.168.0.0/16"),
    (0xc612_0000, 15, C::Benchmarking, "198.18.0.0/15"),
    (0xc633_6400, 24, C::Documentation, "198.51.100.0/24"),
    (0xcb00_7100, 24, C::Documentation, "203.0.113.0/24"),
    (0xe000_0000, 4, C::Multicast, "224.0.0.0/4"),
    (0xffff_ffff, 32, C::Broadcast, "255.255.255.255/32"),
    (0xf000_0000, 4, C::Reserved, "240.0.0.0/4"),
];

/// How an IPv6 range is judged.
#[derive(Clone, Copy)]
enum V6Rule {
    /// By its own class.
    Class(AddressClass),
    /// By the IPv4 address in its last 32 bits.
    CarriesLast32,
    /// By the IPv4 address in bits 16..48 (6to4).
    CarriesSixToFour,
}

/// IPv6 special-purpose ranges, most specific first.
const V6: &[(u128, u8, V6Rule, &str)] = &[
    (0, 128, V6Rule::Class(C::Unspecified), "::/128"),
    (1, 128, V6Rule::Class(C::Loopback), "::1/128"),
    (
        0xffff_0000_0000,
        96,
        V6Rule::CarriesLast32,
        "IPv4-mapped ::ffff:0:0/96",
    ),
    (
        0xffff_0000_0000_0000,
        96,
        V6Rule::CarriesLast32,
        "IPv4-translated ::ffff:0:0:0/96",
    ),
    (0, 96, V6Rule::CarriesLast32, "IPv4-compatible ::/96"),
    (
        0x0064_ff9b_0000_0000_0000_0000_0000_0000,
        96,
        V6Rule::CarriesLast32,
        "NAT64 64:ff9b::/96",
    ),
    (
        0x0064_ff9b_0001_0000_0000_0000_0000_0000,
        48,
        V6Rule::Class(C::Private),
        "local-use NAT64 64:ff9b:1::/48",
    ),
    (
        0x0100_0000_0000_0000_0000_0000_0000_0000,
        64,
        V6Rule::Class(C::Reserved),
        "discard-only 100::/64",
    ),
    (
        0x2001_0002_0000_0000_0000_0000_0000_0000,
        48,
        V6Rule::Class(C::Benchmarking),
        "2001:2::/48",
    ),
    (
        0x2001_0010_0000_0000_0000_0000_0000_0000,
        28,
        V6Rule::Class(C::Reserved),
        "ORCHID 2001:10::/28",
    ),
    (
        0x2001_0020_0000_0000_0000_0000_0000_0000,
        28,
        V6Rule::Class(C::Reserved),
        "ORCHIDv2 2001:20::/28",
    ),
    (
        0x2001_0db8_0000_0000_0000_0000_0000_0000,
        32,
        V6Rule::Class(C::Documentation),
        "2001:db8::/32",
    ),
    (
        0x2001_0000_0000_0000_0000_0000_0000_0000,
        32,
        V6Rule::Class(C::Reserved),
        "Teredo 2001::/32",
    ),
    (
        0x2002_0000_0000_0000_0000_0000_0000_0000,
        16,
        V6Rule::CarriesSixToFour,
        "6to4 2002::/16",
    ),
    (
        0x3fff_0000_0000_0000_0000_0000_0000_0000,
        20,
        V6Rule::Class(C::Documentation),
        "3fff::/20",
    ),
    (
        0x5f00_0000_0000_0000_0000_0000_0000_0000,
        16,
        V6Rule::Class(C::Reserved),
        "SRv6 5f00::/16",
    ),
    (
        0xfc00_0000_0000_0000_0000_0000_0000_0000,
        7,
        V6Rule::Class(C::UniqueLocal),
        "fc00::/7",
    ),
    (
        0xfe80_0000_0000_0000_0000_0000_0000_0000,
        10,
        V6Rule::Class(C::LinkLocal),
        "fe80::/10",
    ),
    (
        0xfec0_0000_0000_0000_0000_0000_0000_0000,
        10,
        V6Rule::Class(C::Private),
        "site-local fec0::/10",
    ),
    (
        0xff00_0000_0000_0000_0000_0000_0000_0000,
        8,
        V6Rule::Class(C::Multicast),
        "ff00::/8",
    ),
];

fn in_v4(ip: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    ip & mask == net
}

fn in_v6(ip: u128, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    ip & mask == net
}

/// The class of an IP address.
pub fn classify(ip: IpAddr) -> Classified {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Classified {
    let bits = u32::from(ip);
    V4.iter()
        .find(|(net, len, _, _)| in_v4(bits, *net, *len))
        .map_or(
            Classified {
                class: C::Public,
                range: "",
                carried: None,
            },
            |(_, _, class, range)| Classified {
                class: *class,
                range,
                carried: None,
            },
        )
}

fn classify_v6(ip: Ipv6Addr) -> Classified {
    let bits = u128::from(ip);
    let Some((_, _, rule, form)) = V6.iter().find(|(net, len, _, _)| in_v6(bits, *net, *len))
    else {
        return Classified {
            class: C::Public,
            range: "",
            carried: None,
        };
    };
    let carried = match rule {
        V6Rule::Class(class) => {
            return Classified {
                class: *class,
                range: form,
                carried: None,
            };
        }
        V6Rule::CarriesLast32 => Ipv4Addr::from(bits as u32),
        V6Rule::CarriesSixToFour => Ipv4Addr::from((bits >> 80) as u32),
    };
    Classified {
        carried: Some((form, carried)),
        ..classify_v4(carried)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v4_table_is_well_formed() {
        for (net, len, _, text) in V4 {
            let mask = u32::MAX << (32 - len);
            assert_eq!(net & !mask, 0, "{text}");
            let (addr, prefix) = text.split_once('/').unwrap();
            assert_eq!(
                addr.parse::<Ipv4Addr>().unwrap(),
                Ipv4Addr::from(*net),
                "{text}"
            );
            assert_eq!(prefix.parse::<u8>().unwrap(), *len, "{text}");
        }
    }

    #[test]
    fn the_v6_table_is_well_formed() {
        for (net, len, _, text) in V6 {
            let cidr = text.rsplit(' ').next().unwrap();
            let (addr, prefix) = cidr.split_once('/').unwrap();
            assert_eq!(
                addr.parse::<Ipv6Addr>().unwrap(),
                Ipv6Addr::from(*net),
                "{text}"
            );
            assert_eq!(prefix.parse::<u8>().unwrap(), *len, "{text}");
        }
    }
}
