//! Windows time-zone ids, as EWS speaks them, mapped to IANA rules.
//!
//! EWS names time zones by their Windows registry key (`W. Europe Standard Time`,
//! `Pacific Standard Time`, `UTC`, ...) in `StartTimeZone`/`EndTimeZone`/`TimeZoneContext`.
//! The emulator keeps the Windows id on every item (that is what it echoes back) and resolves
//! the rules through the IANA zone that CLDR's `windowsZones.xml` lists for the id's territory
//! `001`, using jiff's bundled tz database. Matching is case-insensitive, as Exchange's own
//! lookup is (`OrdinalIgnoreCase` on the registry key name).
//!
//! Unknown ids: a `StartTimeZone`/`EndTimeZone` whose `Id` names no known zone and carries no
//! custom definition makes Exchange 2010+ fail the item with `ErrorCalendarInvalidTimeZone`;
//! an unknown zone in the `TimeZoneContext` SOAP header is a `TimeZoneException`, which EWS maps
//! to `ErrorTimeZone`. [`TimeZoneError`] carries which of the two applies.

use std::collections::HashMap;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Windows time-zone id → IANA zone (CLDR `windowsZones.xml`, territory `001`).
///
/// Covers every id of the Windows registry in current use, far more than the 40 most used.
const WINDOWS_TO_IANA: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("Aleutian Standard Time", "America/Adak"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Marquesas Standard Time", "Pacific/Marquesas"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("UTC-09", "Etc/GMT+9"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("UTC-08", "Etc/GMT+8"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Mountain Standard Time", "America/Denver"),
    ("Yukon Standard Time", "America/Whitehorse"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Central Standard Time", "America/Chicago"),
    ("Easter Island Standard Time", "Pacific/Easter"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("Eastern Standard Time", "America/New_York"),
    ("Haiti Standard Time", "America/Port-au-Prince"),
    ("Cuba Standard Time", "America/Havana"),
    ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("Turks And Caicos Standard Time", "America/Grand_Turk"),
    ("Paraguay Standard Time", "America/Asuncion"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Central Brazilian Standard Time", "America/Cuiaba"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Tocantins Standard Time", "America/Araguaina"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("Greenland Standard Time", "America/Nuuk"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Magallanes Standard Time", "America/Punta_Arenas"),
    ("Saint Pierre Standard Time", "America/Miquelon"),
    ("Bahia Standard Time", "America/Bahia"),
    ("UTC-02", "Etc/GMT+2"),
    ("Mid-Atlantic Standard Time", "Etc/GMT+2"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Sao Tome Standard Time", "Africa/Sao_Tome"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Jordan Standard Time", "Asia/Amman"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Syria Standard Time", "Asia/Damascus"),
    ("West Bank Standard Time", "Asia/Hebron"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("FLE Standard Time", "Europe/Kyiv"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Sudan Standard Time", "Africa/Juba"),
    ("Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("Sudan Standard Time", "Africa/Khartoum"),
    ("Libya Standard Time", "Africa/Tripoli"),
    ("Namibia Standard Time", "Africa/Windhoek"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Belarus Standard Time", "Europe/Minsk"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Volgograd Standard Time", "Europe/Volgograd"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Astrakhan Standard Time", "Europe/Astrakhan"),
    ("Azerbaijan Standard Time", "Asia/Baku"),
    ("Russia Time Zone 3", "Europe/Samara"),
    ("Mauritius Standard Time", "Indian/Mauritius"),
    ("Saratov Standard Time", "Europe/Saratov"),
    ("Georgian Standard Time", "Asia/Tbilisi"),
    ("Caucasus Standard Time", "Asia/Yerevan"),
    ("Afghanistan Standard Time", "Asia/Kabul"),
    ("West Asia Standard Time", "Asia/Tashkent"),
    ("Qyzylorda Standard Time", "Asia/Qyzylorda"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Central Asia Standard Time", "Asia/Bishkek"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Omsk Standard Time", "Asia/Omsk"),
    ("Myanmar Standard Time", "Asia/Yangon"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Altai Standard Time", "Asia/Barnaul"),
    ("W. Mongolia Standard Time", "Asia/Hovd"),
    ("North Asia Standard Time", "Asia/Krasnoyarsk"),
    ("N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("Tomsk Standard Time", "Asia/Tomsk"),
    ("China Standard Time", "Asia/Shanghai"),
    ("North Asia East Standard Time", "Asia/Irkutsk"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"),
    ("Aus Central W. Standard Time", "Australia/Eucla"),
    ("Transbaikal Standard Time", "Asia/Chita"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("North Korea Standard Time", "Asia/Pyongyang"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Yakutsk Standard Time", "Asia/Yakutsk"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("Vladivostok Standard Time", "Asia/Vladivostok"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("Bougainville Standard Time", "Pacific/Bougainville"),
    ("Russia Time Zone 10", "Asia/Srednekolymsk"),
    ("Magadan Standard Time", "Asia/Magadan"),
    ("Norfolk Standard Time", "Pacific/Norfolk"),
    ("Sakhalin Standard Time", "Asia/Sakhalin"),
    ("Central Pacific Standard Time", "Pacific/Guadalcanal"),
    ("Russia Time Zone 11", "Asia/Kamchatka"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("UTC+12", "Etc/GMT-12"),
    ("Fiji Standard Time", "Pacific/Fiji"),
    ("Chatham Islands Standard Time", "Pacific/Chatham"),
    ("UTC+13", "Etc/GMT-13"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Samoa Standard Time", "Pacific/Apia"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
];

/// Which EWS response code an unknown time zone produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZoneContextKind {
    /// `StartTimeZone` / `EndTimeZone` / `MeetingTimeZone` of an item: `ErrorCalendarInvalidTimeZone`.
    CalendarItem,
    /// The `TimeZoneContext` SOAP header: `ErrorTimeZone`.
    RequestHeader,
}

/// A time-zone id that names no zone known to the emulator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "time zone id {id:?} is not a Windows time-zone id known to Exchange; use a registry key name such as \"W. Europe Standard Time\" or \"UTC\""
)]
pub struct TimeZoneError {
    /// The id as the client sent it.
    pub id: String,
    /// Where it was used, which decides the EWS response code.
    pub context: TimeZoneContextKind,
}

impl TimeZoneError {
    /// The EWS `ResponseCode` Exchange answers with for this error.
    pub fn response_code(&self) -> &'static str {
        match self.context {
            TimeZoneContextKind::CalendarItem => "ErrorCalendarInvalidTimeZone",
            TimeZoneContextKind::RequestHeader => "ErrorTimeZone",
        }
    }
}

/// A resolved Windows time zone: its canonical Windows id plus the IANA rules.
#[derive(Debug, Clone)]
pub struct WindowsZone {
    id: &'static str,
    tz: TimeZone,
}

impl PartialEq for WindowsZone {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for WindowsZone {}

struct Registry {
    by_lower_id: HashMap<String, WindowsZone>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let by_lower_id = WINDOWS_TO_IANA
            .iter()
            .filter_map(|&(windows, iana)| {
                // Every entry is checked by a unit test; a zone missing from the bundled
                // database would only drop that one id.
                let tz = TimeZone::get(iana).ok()?;
                Some((
                    windows.to_ascii_lowercase(),
                    WindowsZone { id: windows, tz },
                ))
            })
            .collect();
        Registry { by_lower_id }
    })
}

impl WindowsZone {
    /// Looks up a Windows time-zone id (case-insensitive).
    pub fn lookup(id: &str, context: TimeZoneContextKind) -> Result<WindowsZone, TimeZoneError> {
        registry()
            .by_lower_id
            .get(&id.trim().to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| TimeZoneError {
                id: id.to_owned(),
                context,
            })
    }

    /// The `UTC` zone.
    pub fn utc() -> WindowsZone {
        WindowsZone {
            id: "UTC",
            tz: TimeZone::UTC,
        }
    }

    /// The canonical Windows id (the spelling of the registry key).
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The IANA rules.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// The wall-clock time of `instant` in this zone.
    pub fn to_local(&self, instant: Timestamp) -> DateTime {
        self.tz.to_datetime(instant)
    }

    /// The instant of a wall-clock time in this zone.
    ///
    /// A time inside a DST gap is moved forward by the gap and a time inside a fold takes the
    /// earlier instant, which is what Windows and Exchange do for recurring meetings.
    pub fn to_instant(&self, local: DateTime) -> Timestamp {
        self.tz
            .to_ambiguous_timestamp(local)
            .compatible()
            // Only wall-clock times at the very ends of jiff's range (years -9999/9999) fail.
            .unwrap_or(if local.year() < 0 {
                Timestamp::MIN
            } else {
                Timestamp::MAX
            })
    }

    /// Local midnight of `date` in this zone, as an instant.
    pub fn start_of_day(&self, date: Date) -> Timestamp {
        self.to_instant(date.to_datetime(jiff::civil::Time::midnight()))
    }

    /// The UTC offset in effect at `instant`, in seconds east of UTC.
    pub fn offset_seconds(&self, instant: Timestamp) -> i32 {
        self.tz.to_offset(instant).seconds()
    }
}

/// All Windows ids the emulator knows, in table order.
pub fn known_windows_ids() -> impl Iterator<Item = &'static str> {
    WINDOWS_TO_IANA.iter().map(|&(windows, _)| windows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn every_table_entry_resolves_in_the_bundled_database() {
        for &(windows, iana) in WINDOWS_TO_IANA {
            assert!(
                TimeZone::get(iana).is_ok(),
                "{windows} -> {iana} is not in jiff's tzdb"
            );
        }
        assert_eq!(
            registry().by_lower_id.len(),
            WINDOWS_TO_IANA.len() - duplicate_count()
        );
    }

    fn duplicate_count() -> usize {
        let mut seen = std::collections::HashSet::new();
        WINDOWS_TO_IANA
            .iter()
            .filter(|(w, _)| !seen.insert(w.to_ascii_lowercase()))
            .count()
    }

    #[test]
    fn lookup_is_case_insensitive_and_returns_the_canonical_spelling() {
        let zone =
            WindowsZone::lookup("w. europe standard time", TimeZoneContextKind::CalendarItem)
                .unwrap();
        assert_eq!(zone.id(), "W. Europe Standard Time");
        assert_eq!(zone.tz().iana_name(), Some("Europe/Berlin"));
    }

    #[test]
    fn unknown_ids_map_to_the_response_code_of_their_context() {
        let item =
            WindowsZone::lookup("Europe/Berlin", TimeZoneContextKind::CalendarItem).unwrap_err();
        assert_eq!(item.response_code(), "ErrorCalendarInvalidTimeZone");
        let header = WindowsZone::lookup("Mars Standard Time", TimeZoneContextKind::RequestHeader)
            .unwrap_err();
        assert_eq!(header.response_code(), "ErrorTimeZone");
        assert!(header.to_string().contains("Mars Standard Time"));
    }

    #[test]
    fn w_europe_follows_central_european_dst() {
        let zone =
            WindowsZone::lookup("W. Europe Standard Time", TimeZoneContextKind::CalendarItem)
                .unwrap();
        let winter = zone.to_instant(date(2026, 1, 12).at(9, 0, 0, 0));
        let summer = zone.to_instant(date(2026, 7, 13).at(9, 0, 0, 0));
        assert_eq!(winter.to_string(), "2026-01-12T08:00:00Z");
        assert_eq!(summer.to_string(), "2026-07-13T07:00:00Z");
        assert_eq!(zone.offset_seconds(winter), 3600);
        assert_eq!(zone.offset_seconds(summer), 7200);
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward() {
        let zone = WindowsZone::lookup("Pacific Standard Time", TimeZoneContextKind::CalendarItem)
            .unwrap();
        // 2026-03-08 02:30 does not exist in Los Angeles; it is read as 03:30 PDT.
        let instant = zone.to_instant(date(2026, 3, 8).at(2, 30, 0, 0));
        assert_eq!(instant.to_string(), "2026-03-08T10:30:00Z");
    }

    #[test]
    fn a_time_in_the_autumn_fold_takes_the_earlier_instant() {
        let zone = WindowsZone::lookup("Pacific Standard Time", TimeZoneContextKind::CalendarItem)
            .unwrap();
        let instant = zone.to_instant(date(2026, 11, 1).at(1, 30, 0, 0));
        assert_eq!(instant.to_string(), "2026-11-01T08:30:00Z");
    }

    #[test]
    fn at_least_forty_ids_are_known() {
        assert!(known_windows_ids().count() >= 40);
        assert!(known_windows_ids().any(|id| id == "UTC"));
    }
}
