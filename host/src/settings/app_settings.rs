//! The raw reader of `RoomsAppSettings.config`: `<add key=".." value=".."/>` entries with their
//! line and column, and nothing else. Validation happens in [`super::TenantSettings`].
//!
//! Accepted, as the .NET configuration system of the original product accepts them:
//! - the root `<RoomsAppSettings>`, `<appSettings>`, or `<configuration>` with an
//!   `<appSettings>` inside (other sections of a `web.config` are skipped);
//! - an XML declaration, comments, whitespace, a UTF-8 byte order mark, UTF-16 with a byte order
//!   mark;
//! - `<add key value/>`, `<remove key/>` (drops an earlier key) and `<clear/>` (drops all earlier
//!   keys).
//!
//! Keys are matched case-insensitively (ASCII), as .NET's `appSettings` does. When a key appears
//! twice, the last `<add>` wins, as in .NET, and a [`WarningKind::DuplicateKey`] names both
//! lines. A `<!DOCTYPE>` is refused: settings never need one, and entity tricks are not welcome.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::error::{
    ErrorKind, Origin, SettingsError, SettingsErrors, SettingsWarning, WarningKind,
};

/// Settings files larger than this are refused (the original files are a few KiB).
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A line and column in the settings file, both counting from 1; columns count characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl From<Position> for Origin {
    fn from(position: Position) -> Self {
        Origin::File {
            line: position.line,
            column: position.column,
        }
    }
}

/// One `<add key=".." value=".."/>` that is in effect.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written in the file.
    pub key: String,
    /// The value, with XML references (`&amp;`) resolved. May be a secret: never print it.
    pub value: String,
    /// Where the value came from: the position of the `<add>` element, or the JSON path in
    /// `appsettings.json`.
    pub origin: Origin,
}

/// Entries print without their values, since some are secrets.
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value", &"[not shown]")
            .field("origin", &self.origin)
            .finish()
    }
}

/// The entries of a settings file, in file order, after `<remove>`, `<clear>` and duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppSettings {
    path: PathBuf,
    entries: Vec<Entry>,
    warnings: Vec<SettingsWarning>,
}

impl AppSettings {
    /// Reads and parses a settings file.
    pub fn load(path: &Path) -> Result<Self, SettingsErrors> {
        let bytes = read_file(path)?;
        let text = decode(path, &bytes)?;
        Self::parse(path, &text)
    }

    /// Parses settings text; `path` is used in messages only.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SettingsErrors> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Parser {
            path,
            text,
            reader: quick_xml::Reader::from_str(text),
            settings: Self {
                path: path.to_owned(),
                entries: Vec::new(),
                warnings: Vec::new(),
            },
        }
        .run()
    }

    /// Settings made from entries that did not come from an XML file (`appsettings.json`).
    pub(crate) fn from_parts(
        path: PathBuf,
        entries: Vec<Entry>,
        warnings: Vec<SettingsWarning>,
    ) -> Self {
        Self {
            path,
            entries,
            warnings,
        }
    }

    /// The file these settings were read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries in effect, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry of `key`, matched case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|entry| entry.key.eq_ignore_ascii_case(key))
    }

    /// Warnings found while reading (duplicate keys, unknown attributes).
    pub fn warnings(&self) -> &[SettingsWarning] {
        &self.warnings
    }

    /// Applies `<add>`: a later entry with the same key replaces the earlier one.
    fn add(&mut self, entry: Entry) {
        if let Some(index) = self
            .entries
            .iter()
            .position(|old| old.key.eq_ignore_ascii_case(&entry.key))
        {
            let old = self.entries.remove(index);
            self.warnings.push(SettingsWarning::at(
                WarningKind::DuplicateKey,
                Some(&self.path),
                &entry.key,
                Some(&entry.origin),
                format!(
                    "the key is also set {}; the last one ({}) is used",
                    describe(&old.origin),
                    describe(&entry.origin)
                ),
                "delete the entry that is not meant",
            ));
        }
        self.entries.push(entry);
    }
}

/// `line 4` for a file position, the path for JSON.
fn describe(origin: &Origin) -> String {
    match origin {
        Origin::File { line, .. } => format!("on line {line}"),
        Origin::Json(path) => format!("at {path}"),
        Origin::Env => "in the environment".to_owned(),
    }
}

/// Reads the file, refusing anything but a regular file (a FIFO or device would block) and
/// files over [`MAX_FILE_BYTES`].
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, SettingsErrors> {
    use crate::files::{FileError, FileKind};
    let unreadable = |problem: String, fix: &str| -> SettingsErrors {
        SettingsError {
            kind: ErrorKind::Unreadable,
            file: Some(path.to_owned()),
            key: None,
            origin: None,
            problem,
            fix: fix.to_owned(),
        }
        .into()
    };
    crate::files::read_regular(path, MAX_FILE_BYTES).map_err(|error| match error {
        FileError::NotFound { .. } => unreadable(
            "the settings file does not exist".into(),
            "create it, or start rooms-sync with the tenant directory that holds \
             RoomsAppSettings.config",
        ),
        FileError::PermissionDenied { .. } => unreadable(
            "rooms-sync may not read the settings file".into(),
            "give the user running rooms-sync read permission on it",
        ),
        FileError::NotRegular {
            kind: FileKind::Directory,
            ..
        } => unreadable(
            "this is a directory, not a settings file".into(),
            "name the RoomsAppSettings.config file inside it",
        ),
        FileError::NotRegular { kind, .. } => unreadable(
            format!("the settings file is {kind}, not a regular file"),
            "replace it with the settings file itself; rooms-sync reads settings only from \
             regular files, so that a pipe or device cannot make it wait",
        ),
        FileError::TooLarge { .. } => unreadable(
            "the file is larger than 4 MiB, too large for a settings file".into(),
            "point rooms-sync at the RoomsAppSettings.config file",
        ),
        FileError::Unreadable { reason, .. } => unreadable(
            format!("the settings file cannot be read: {reason}"),
            "point rooms-sync at a readable file",
        ),
    })
}

/// Decodes UTF-8 (with or without a byte order mark) or UTF-16 with a byte order mark.
pub(crate) fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<Cow<'a, str>, SettingsErrors> {
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        let units = rest
            .chunks(2)
            .map(|pair| unit([pair[0], pair.get(1).copied().unwrap_or(0)]));
        char::decode_utf16(units).collect::<Result<String, _>>()
    };
    let decoded = match bytes {
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes).map(Cow::Owned).ok(),
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes).map(Cow::Owned).ok(),
        _ => match std::str::from_utf8(bytes) {
            Ok(text) => Some(Cow::Borrowed(text)),
            Err(error) => {
                let position = position_of(
                    &String::from_utf8_lossy(&bytes[..error.valid_up_to()]),
                    error.valid_up_to(),
                );
                return Err(SettingsError {
                    kind: ErrorKind::NotText,
                    file: Some(path.to_owned()),
                    key: None,
                    origin: Some(position.into()),
                    problem: "the file is not UTF-8 text (a byte here is not UTF-8, probably an \
                              umlaut saved as Windows-1252)"
                        .into(),
                    fix: "save the file as UTF-8".into(),
                }
                .into());
            }
        },
    };
    decoded.ok_or_else(|| {
        SettingsError {
            kind: ErrorKind::NotText,
            file: Some(path.to_owned()),
            key: None,
            origin: None,
            problem: "the file starts with a UTF-16 byte order mark but is not valid UTF-16".into(),
            fix: "save the file as UTF-8".into(),
        }
        .into()
    })
}

/// The line and column (both from 1, columns in characters) of byte `offset` in `text`.
pub(crate) fn position_of(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    Position {
        line: saturate(before.matches('\n').count() + 1),
        column: saturate(before[line_start..].chars().count() + 1),
    }
}

fn saturate(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The root elements accepted for the list of settings.
const SETTINGS_ROOTS: [&str; 2] = ["RoomsAppSettings", "appSettings"];

/// The streaming parser over one document.
struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    reader: quick_xml::Reader<&'a [u8]>,
    settings: AppSettings,
}

/// What the parser is inside of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before the root element.
    Prolog,
    /// Inside `<configuration>`, looking for `<appSettings>`.
    Configuration,
    /// Inside the list of settings.
    Settings,
    /// Inside an `<add>` written with a separate end tag.
    Entry,
    /// After the root element.
    Epilog,
}

impl Parser<'_> {
    fn run(mut self) -> Result<AppSettings, SettingsErrors> {
        let mut place = Place::Prolog;
        let mut configuration_root = false;
        let mut saw_settings = false;
        let mut root = String::new();
        loop {
            let start = self.reader.buffer_position() as usize;
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(error) => return Err(self.xml_error(&error)),
            };
            match event {
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => {
                    return Err(self.unexpected(
                        start,
                        "a <!DOCTYPE> declaration is not allowed in a settings file",
                        "delete the <!DOCTYPE ...> line",
                    ));
                }
                Event::Text(text) => {
                    if !text.trim().is_empty() {
                        return Err(self.unexpected(
                            start,
                            "text outside of an element",
                            r#"keep only <add key="..." value="..." /> elements and comments"#,
                        ));
                    }
                }
                Event::CData(_) | Event::GeneralRef(_) => {
                    return Err(self.unexpected(
                        start,
                        "text outside of an element",
                        r#"keep only <add key="..." value="..." /> elements and comments"#,
                    ));
                }
                Event::Start(element) | Event::Empty(element)
                    if place == Place::Epilog || place == Place::Entry =>
                {
                    let name = local_name(&element);
                    return Err(if place == Place::Epilog {
                        self.unexpected(
                            start,
                            &format!("<{name}> after the end of the root element"),
                            "put every setting inside the one root element",
                        )
                    } else {
                        self.unexpected(
                            start,
                            &format!("<{name}> inside <add>"),
                            r#"write each setting as <add key="..." value="..." />"#,
                        )
                    });
                }
                Event::Start(element) => {
                    let name = local_name(&element).into_owned();
                    match place {
                        Place::Prolog if SETTINGS_ROOTS.contains(&name.as_str()) => {
                            place = Place::Settings;
                            saw_settings = true;
                            root = name;
                        }
                        Place::Prolog if name == "configuration" => {
                            place = Place::Configuration;
                            configuration_root = true;
                            root = name;
                        }
                        Place::Prolog => return Err(self.wrong_root(start, &name)),
                        Place::Configuration if name == "appSettings" => {
                            place = Place::Settings;
                            saw_settings = true;
                        }
                        Place::Configuration => {
                            // Another section of a web.config: skip it whole.
                            let end = element.to_end().into_owned();
                            if let Err(error) = self.reader.read_to_end(end.name()) {
                                return Err(self.xml_error(&error));
                            }
                        }
                        Place::Settings => {
                            self.element(start, &element, &name)?;
                            place = Place::Entry;
                        }
                        Place::Entry | Place::Epilog => unreachable!("handled above"),
                    }
                }
                Event::Empty(element) => {
                    let name = local_name(&element).into_owned();
                    match place {
                        Place::Prolog if SETTINGS_ROOTS.contains(&name.as_str()) => {
                            saw_settings = true;
                            place = Place::Epilog;
                        }
                        Place::Prolog => return Err(self.wrong_root(start, &name)),
                        Place::Configuration => saw_settings |= name == "appSettings",
                        Place::Settings => self.element(start, &element, &name)?,
                        Place::Entry | Place::Epilog => unreachable!("handled above"),
                    }
                }
                Event::End(_) => {
                    place = match place {
                        Place::Entry => Place::Settings,
                        Place::Settings if configuration_root => Place::Configuration,
                        _ => Place::Epilog,
                    };
                }
                Event::Eof => break,
            }
        }
        if matches!(place, Place::Configuration | Place::Settings | Place::Entry) {
            return Err(SettingsError {
                kind: ErrorKind::Malformed,
                file: Some(self.path.to_owned()),
                key: None,
                origin: Some(position_of(self.text, self.text.len()).into()),
                problem: format!("malformed XML: the file ends before </{root}>"),
                fix: format!("close the root element with </{root}> at the end of the file"),
            }
            .into());
        }
        if !saw_settings {
            let fix = if configuration_root {
                "add an <appSettings> section with the settings"
            } else {
                r#"write the settings as <RoomsAppSettings><add key="..." value="..." /></RoomsAppSettings>"#
            };
            return Err(self.unexpected(
                self.text.len(),
                "the file has no <RoomsAppSettings> or <appSettings> element",
                fix,
            ));
        }
        Ok(self.settings)
    }

    /// Handles `<add>`, `<remove>` and `<clear>` inside the settings list.
    fn element(
        &mut self,
        start: usize,
        element: &BytesStart<'_>,
        name: &str,
    ) -> Result<(), SettingsErrors> {
        let position = position_of(self.text, start);
        match name {
            "add" | "remove" => {
                let mut key = None;
                let mut value = None;
                for attribute in element.attributes() {
                    let attribute = attribute.map_err(|_| self.bad_attribute(start, name))?;
                    let attribute_name =
                        attribute.key.local_name().into_inner().to_owned();
                    let decoded = attribute
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map(Cow::into_owned)
                        .map_err(|_| self.bad_reference(start, key.as_deref()));
                    match attribute_name.as_str() {
                        "key" => key = Some(decoded?),
                        "value" if name == "add" => value = Some(decoded?),
                        _ => self.settings.warnings.push(SettingsWarning {
                            kind: WarningKind::UnknownAttribute,
                            file: Some(self.path.to_owned()),
                            key: key.clone(),
                            origin: Some(position.into()),
                            problem: format!("<{name}> has an unknown attribute `{attribute_name}`, which is ignored"),
                            fix: r#"write the setting as <add key="..." value="..." />"#.into(),
                        }),
                    }
                }
                let Some(key) = key.filter(|key| !key.trim().is_empty()) else {
                    return Err(self.unexpected(
                        start,
                        &format!("<{name}> without a `key` attribute"),
                        r#"write the setting as <add key="..." value="..." />"#,
                    ));
                };
                if name == "remove" {
                    self.settings
                        .entries
                        .retain(|entry| !entry.key.eq_ignore_ascii_case(&key));
                } else {
                    self.settings.add(Entry {
                        key,
                        value: value.unwrap_or_default(),
                        origin: position.into(),
                    });
                }
                Ok(())
            }
            "clear" => {
                self.settings.entries.clear();
                Ok(())
            }
            _ => Err(self.unexpected(
                start,
                &format!("unknown element <{name}>"),
                r#"write each setting as <add key="..." value="..." /> (or use <remove key="..." /> and <clear />)"#,
            )),
        }
    }

    fn wrong_root(&self, start: usize, name: &str) -> SettingsErrors {
        self.unexpected(
            start,
            &format!("the root element is <{name}>, not <RoomsAppSettings>"),
            r#"write the settings as <RoomsAppSettings><add key="..." value="..." /></RoomsAppSettings>"#,
        )
    }

    fn unexpected(&self, offset: usize, problem: &str, fix: &str) -> SettingsErrors {
        SettingsError {
            kind: ErrorKind::UnexpectedContent,
            file: Some(self.path.to_owned()),
            key: None,
            origin: Some(position_of(self.text, offset).into()),
            problem: problem.to_owned(),
            fix: fix.to_owned(),
        }
        .into()
    }

    /// A malformed attribute (no quotes, no `=`, a name twice), reported at its element.
    fn bad_attribute(&self, start: usize, element: &str) -> SettingsErrors {
        SettingsError {
            kind: ErrorKind::Malformed,
            file: Some(self.path.to_owned()),
            key: None,
            origin: Some(position_of(self.text, start).into()),
            problem: format!(
                "malformed XML: an attribute of <{element}> is malformed (expected name=\"value\" \
                 with quotes, each name once)"
            ),
            fix: r#"write the setting as <add key="..." value="..." />"#.into(),
        }
        .into()
    }

    /// An `&` in an attribute that is not a known reference. The message never quotes the value,
    /// which may be a secret.
    fn bad_reference(&self, start: usize, key: Option<&str>) -> SettingsErrors {
        SettingsError {
            kind: ErrorKind::Malformed,
            file: Some(self.path.to_owned()),
            key: key.map(str::to_owned),
            origin: Some(position_of(self.text, start).into()),
            problem: "an attribute contains an `&` that does not start a valid XML reference"
                .into(),
            fix: "write `&` as `&amp;` (and `<` as `&lt;`, `\"` as `&quot;`)".into(),
        }
        .into()
    }

    /// A well-formedness error from quick-xml, with its line and column. Its messages name tags
    /// and positions only, never attribute values.
    fn xml_error(&self, error: &quick_xml::Error) -> SettingsErrors {
        use quick_xml::Error;
        let offset = self.reader.error_position() as usize;
        let problem = match error {
            Error::Syntax(error) => error.to_string(),
            Error::IllFormed(error) => error.to_string(),
            Error::InvalidAttr(_) => "an attribute is malformed (expected name=\"value\" with \
                                      quotes, each name once)"
                .to_owned(),
            Error::Escape(_) => "an `&` does not start a valid XML reference".to_owned(),
            _ => "the XML is malformed".to_owned(),
        };
        SettingsError {
            kind: ErrorKind::Malformed,
            file: Some(self.path.to_owned()),
            key: None,
            origin: Some(position_of(self.text, offset).into()),
            problem: format!("malformed XML: {problem}"),
            fix:
                r#"correct the XML at this position; each setting is <add key="..." value="..." />"#
                    .into(),
        }
        .into()
    }
}

/// The element's name without a namespace prefix.
fn local_name<'a>(element: &'a BytesStart<'_>) -> Cow<'a, str> {
    Cow::Borrowed(element.local_name().into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses, expecting at most one error (the reader stops at the first).
    fn parse(text: &str) -> Result<AppSettings, Box<SettingsError>> {
        AppSettings::parse(Path::new("RoomsAppSettings.config"), text).map_err(|errors| {
            assert_eq!(errors.errors.len(), 1, "{errors}");
            Box::new(errors.errors[0].clone())
        })
    }

    fn load(path: &Path) -> Result<AppSettings, Box<SettingsError>> {
        AppSettings::load(path).map_err(|errors| Box::new(errors.errors[0].clone()))
    }

    fn origin(error: &SettingsError) -> (u32, u32) {
        match error.origin {
            Some(Origin::File { line, column }) => (line, column),
            ref other => panic!("no position: {other:?}"),
        }
    }

    #[test]
    fn reads_entries_with_positions_declaration_and_comments() {
        let settings = parse(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <!-- ROOMS -->\n\
             <RoomsAppSettings>\n\
             \x20 <add key=\"ExchangeTenantId\" value=\"a\" />\n\
             \x20 <add key=\"ExchangeAppId\" value=\"b &amp; c\"></add>\n\
             </RoomsAppSettings>\n",
        )
        .unwrap();
        let entries = settings.entries();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].key, "ExchangeTenantId");
        assert_eq!(entries[0].value, "a");
        assert_eq!(entries[0].origin, Origin::File { line: 4, column: 3 });
        assert_eq!(entries[1].value, "b & c");
        assert_eq!(entries[1].origin, Origin::File { line: 5, column: 3 });
        assert!(settings.warnings().is_empty());
    }

    #[test]
    fn keys_match_case_insensitively() {
        let settings =
            parse(r#"<RoomsAppSettings><add key="exchangeAPPID" value="x"/></RoomsAppSettings>"#)
                .unwrap();
        assert_eq!(settings.get("ExchangeAppId").unwrap().value, "x");
        assert!(settings.get("ExchangeTenantId").is_none());
    }

    #[test]
    fn app_settings_and_configuration_roots_are_accepted() {
        let plain = parse(r#"<appSettings><add key="A" value="1"/></appSettings>"#).unwrap();
        assert_eq!(plain.get("A").unwrap().value, "1");
        let web_config = parse(
            r#"<configuration>
                 <system.web><compilation debug="true"><x/></compilation></system.web>
                 <appSettings><add key="A" value="2"/></appSettings>
               </configuration>"#,
        )
        .unwrap();
        assert_eq!(web_config.get("A").unwrap().value, "2");
        let empty = parse("<RoomsAppSettings/>").unwrap();
        assert!(empty.entries().is_empty());
    }

    #[test]
    fn last_duplicate_wins_with_a_warning_naming_both_lines() {
        let settings = parse(
            "<RoomsAppSettings>\n<add key=\"A\" value=\"1\"/>\n<add key=\"a\" value=\"2\"/>\n</RoomsAppSettings>",
        )
        .unwrap();
        assert_eq!(settings.entries().len(), 1);
        assert_eq!(settings.get("A").unwrap().value, "2");
        let warning = &settings.warnings()[0];
        assert_eq!(warning.kind, WarningKind::DuplicateKey);
        assert_eq!(
            warning.problem,
            "the key is also set on line 2; the last one (on line 3) is used"
        );
    }

    #[test]
    fn remove_and_clear_drop_earlier_entries() {
        let settings = parse(
            r#"<RoomsAppSettings>
                 <add key="A" value="1"/><add key="B" value="2"/><clear/>
                 <add key="C" value="3"/><add key="D" value="4"/><remove key="c"/>
               </RoomsAppSettings>"#,
        )
        .unwrap();
        let keys: Vec<_> = settings.entries().iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["D"]);
    }

    #[test]
    fn malformed_xml_gives_line_and_column_and_what_was_expected() {
        let error = parse("<RoomsAppSettings>\n  <add key=\"A\" value=\"1\"/>\n  <add key=\"B\" value=\"2\">\n</RoomsAppSettings>")
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Malformed);
        assert_eq!(origin(&error), (4, 1));
        assert!(
            error.problem.contains("expected `</add>`"),
            "{}",
            error.problem
        );
        assert!(
            error
                .to_string()
                .starts_with("RoomsAppSettings.config:4:1: ")
        );

        let error = parse("<RoomsAppSettings>\n  <add key=\"A\" value=\"1\n").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Malformed);
        assert_eq!(origin(&error).0, 2);

        let error = parse("<RoomsAppSettings>\n  <add key=A value=\"1\"/>\n</RoomsAppSettings>")
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Malformed);
        assert_eq!(origin(&error), (2, 3));
        assert!(
            error.problem.contains("attribute of <add>"),
            "{}",
            error.problem
        );

        let error = parse("<RoomsAppSettings>\n<add key=\"A\" value=\"1\"/>\n").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Malformed);
        assert!(
            error.problem.contains("</RoomsAppSettings>"),
            "{}",
            error.problem
        );
    }

    #[test]
    fn an_unescaped_ampersand_is_reported_without_the_value() {
        let error = parse(
            "<RoomsAppSettings>\n  <add key=\"ExchangeClientSecret\" value=\"Zq8&amp-s3cr3t\"/>\n</RoomsAppSettings>",
        )
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Malformed);
        assert_eq!(error.key.as_deref(), Some("ExchangeClientSecret"));
        assert_eq!(origin(&error), (2, 3));
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("amp-"), "{shown}");
        assert!(error.fix.contains("&amp;"));
    }

    #[test]
    fn structure_errors_name_the_element_and_the_fix() {
        let error = parse("<settings><add key=\"A\" value=\"1\"/></settings>").unwrap_err();
        assert_eq!(error.kind, ErrorKind::UnexpectedContent);
        assert!(error.problem.contains("<settings>"));
        assert_eq!(origin(&error), (1, 1));

        let error = parse("<RoomsAppSettings>\n  <ad key=\"A\" value=\"1\"/>\n</RoomsAppSettings>")
            .unwrap_err();
        assert!(error.problem.contains("<ad>"), "{}", error.problem);
        assert_eq!(origin(&error), (2, 3));

        let error = parse("<RoomsAppSettings><add value=\"1\"/></RoomsAppSettings>").unwrap_err();
        assert!(
            error.problem.contains("without a `key`"),
            "{}",
            error.problem
        );

        let error = parse("<RoomsAppSettings>oops<add key=\"A\" value=\"1\"/></RoomsAppSettings>")
            .unwrap_err();
        assert!(error.problem.contains("text"), "{}", error.problem);

        let error = parse("<RoomsAppSettings/><RoomsAppSettings/>").unwrap_err();
        assert!(error.problem.contains("after the end"), "{}", error.problem);

        for text in ["", "  \n", "<!-- only a comment -->"] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.kind, ErrorKind::UnexpectedContent, "{text:?}");
            assert!(error.problem.contains("no <RoomsAppSettings>"));
        }
    }

    #[test]
    fn doctype_and_entities_are_refused() {
        let error = parse(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x \"y\">]>\n<RoomsAppSettings><add key=\"A\" value=\"&x;\"/></RoomsAppSettings>",
        )
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::UnexpectedContent);
        assert_eq!(origin(&error), (2, 1));
    }

    #[test]
    fn unknown_attributes_warn_and_missing_values_are_empty() {
        let settings =
            parse(r#"<RoomsAppSettings><add key="A" valeu="1"/></RoomsAppSettings>"#).unwrap();
        assert_eq!(settings.get("A").unwrap().value, "");
        assert_eq!(settings.warnings()[0].kind, WarningKind::UnknownAttribute);
        assert!(settings.warnings()[0].problem.contains("valeu"));
    }

    #[test]
    fn debug_of_entries_hides_values() {
        let settings = parse(
            r#"<RoomsAppSettings><add key="ExchangeClientSecret" value="Zq8~s3cr3t"/></RoomsAppSettings>"#,
        )
        .unwrap();
        assert!(!format!("{settings:?}").contains("Zq8~s3cr3t"));
    }

    #[test]
    fn files_in_utf16_and_with_bad_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let text = "<RoomsAppSettings><add key=\"A\" value=\"Grüße\"/></RoomsAppSettings>";
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let path = dir.path().join("utf16.config");
        std::fs::write(&path, utf16).unwrap();
        assert_eq!(load(&path).unwrap().get("A").unwrap().value, "Grüße");

        let path = dir.path().join("latin1.config");
        std::fs::write(
            &path,
            b"<RoomsAppSettings>\n<add key=\"A\" value=\"Gr\xfc\xdfe\"/></RoomsAppSettings>",
        )
        .unwrap();
        let error = load(&path).unwrap_err();
        assert_eq!(error.kind, ErrorKind::NotText);
        assert_eq!(origin(&error), (2, 23));
    }

    #[test]
    fn unreadable_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("RoomsAppSettings.config");
        let error = load(&missing).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unreadable);
        assert_eq!(error.file.as_deref(), Some(missing.as_path()));
        assert!(error.to_string().contains("does not exist"));

        let error = load(dir.path()).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Unreadable);
        assert!(error.problem.contains("directory"));
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        assert_eq!(position_of("äö\nü<", 7), Position { line: 2, column: 2 });
        assert_eq!(position_of("", 10), Position { line: 1, column: 1 });
    }
}
