//! One mailbox of the store: its items, per-folder change journals, calendar indexes and the
//! event log that feeds notification subscriptions.
//!
//! Every modification takes the next change number of the mailbox. That number is the new
//! `ChangeKey` version of the item, the sequence number of the journal entry the change
//! appends to the item's folder, and the watermark of the notification event it raises.
//!
//! Indexes keep requests cheap on large mailboxes (50,000 items): items by serial in a hash
//! map, calendar items by start in an ordered set (plus the longest duration, so an overlap
//! query scans only `[from - longest, to)`), recurring masters in their own set, calendar items
//! by `UID`, items by the value of their `String` extended properties, and journals as vectors
//! ordered by change number (a sync page is a binary search plus the page).

use std::collections::{BTreeSet, HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};

use super::ids::ItemRef;
use super::item::{
    CalendarItem, CalendarItemType, ExtendedValue, FolderKind, Item, ItemKey, ItemKind, PropertyKey,
};
use super::recurrence::{Occurrence, Series};

/// What a journal entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// The item entered the folder (created, moved or copied in).
    Create,
    /// The item changed.
    Update,
    /// The item left the folder (deleted or moved out).
    Delete,
}

/// One entry of a folder's change journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalEntry {
    /// Change number.
    pub seq: u64,
    /// The item.
    pub key: ItemKey,
    /// What happened.
    pub op: ChangeOp,
    /// Change number at which the item entered the folder (to tell whether a client that
    /// synchronised up to some position could have seen it).
    pub entered: u64,
}

/// Kind of a notification event (`t:CreatedEvent`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `CreatedEvent`.
    Created,
    /// `ModifiedEvent`.
    Modified,
    /// `DeletedEvent`.
    Deleted,
    /// `MovedEvent`.
    Moved,
    /// `CopiedEvent`.
    Copied,
    /// `NewMailEvent`.
    NewMail,
}

impl EventKind {
    /// The element name (`CreatedEvent`) and `EventType` value (`CreatedEvent`).
    pub fn element(self) -> &'static str {
        match self {
            EventKind::Created => "CreatedEvent",
            EventKind::Modified => "ModifiedEvent",
            EventKind::Deleted => "DeletedEvent",
            EventKind::Moved => "MovedEvent",
            EventKind::Copied => "CopiedEvent",
            EventKind::NewMail => "NewMailEvent",
        }
    }

    /// Parses an `EventType` value of a subscription request.
    pub fn parse(text: &str) -> Option<EventKind> {
        Some(match text {
            "CreatedEvent" => EventKind::Created,
            "ModifiedEvent" => EventKind::Modified,
            "DeletedEvent" => EventKind::Deleted,
            "MovedEvent" => EventKind::Moved,
            "CopiedEvent" => EventKind::Copied,
            "NewMailEvent" => EventKind::NewMail,
            _ => return None,
        })
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTarget {
    /// An item (its serial in the folder named by the event).
    Item(ItemKey),
    /// A folder itself (its item count changed).
    Folder,
}

/// A notification event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Change number (the watermark).
    pub seq: u64,
    /// When it happened.
    pub time: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// To what.
    pub target: EventTarget,
    /// The folder the item is in (or the folder itself).
    pub folder: FolderKind,
    /// For moves and copies: the item's previous serial and folder.
    pub old: Option<(ItemKey, FolderKind)>,
}

#[derive(Debug, Default, Clone)]
struct FolderState {
    journal: Vec<JournalEntry>,
    members: BTreeSet<ItemKey>,
    /// Calendar items other than masters, by (start, serial).
    by_start: BTreeSet<(Timestamp, ItemKey)>,
    /// Recurring masters.
    masters: BTreeSet<ItemKey>,
    /// Longest duration among `by_start` items (never shrinks).
    longest: SignedDuration,
}

/// One entry of a calendar view: a stored item, or an occurrence/exception of a series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEntry {
    /// What the entry's id points at.
    pub id: ItemRef,
    /// The item as EWS shows it (occurrences synthesized from the master).
    pub item: Item,
}

impl ViewEntry {
    /// Start of the entry.
    pub fn start(&self) -> Timestamp {
        self.item
            .calendar()
            .map(|c| c.start)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

/// One change of a sync page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncChange<'a> {
    /// The client has not seen the item.
    Create(&'a Item),
    /// The item changed since the client saw it.
    Update(&'a Item),
    /// The item is gone (or no longer visible to the client).
    Delete(ItemKey),
}

/// A page of changes for `SyncFolderItems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPage<'a> {
    /// The changes, in journal order.
    pub changes: Vec<SyncChange<'a>>,
    /// Journal position to put in the next sync state.
    pub position: u64,
    /// Whether the page reaches the end of the journal (`IncludesLastItemInRange`).
    pub includes_last: bool,
}

/// A mailbox's calendar store.
#[derive(Debug, Clone)]
pub struct Mailbox {
    address: String,
    token: u64,
    change: u64,
    next_key: ItemKey,
    items: HashMap<ItemKey, Item>,
    folders: [FolderState; 6],
    events: Vec<Event>,
    /// Calendar-folder items (singles and masters) by `UID`.
    by_uid: HashMap<String, ItemKey>,
    /// Items by the (lower-cased) value of each single-valued `String` extended property, so a
    /// restriction on a tag (e.g. `RoomsBookingId`) needs no folder scan.
    by_extended: HashMap<(PropertyKey, String), BTreeSet<ItemKey>>,
}

impl Mailbox {
    /// An empty mailbox for a primary SMTP address.
    pub fn new(address: &str) -> Mailbox {
        Mailbox {
            address: address.to_owned(),
            token: super::ids::mailbox_token(address),
            change: 0,
            next_key: 1,
            items: HashMap::new(),
            folders: Default::default(),
            events: Vec::new(),
            by_uid: HashMap::new(),
            by_extended: HashMap::new(),
        }
    }

    /// The primary SMTP address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The token ids of this mailbox carry.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The last change number used (the current watermark position).
    pub fn current_change(&self) -> u64 {
        self.change
    }

    /// Number of items stored (all folders).
    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    /// Number of items in a folder.
    pub fn folder_count(&self, folder: FolderKind) -> usize {
        self.folders[folder.index()].members.len()
    }

    fn next_change(&mut self) -> u64 {
        self.change += 1;
        self.change
    }

    /// A stored item by serial.
    pub fn get(&self, key: ItemKey) -> Option<&Item> {
        self.items.get(&key)
    }

    /// The reference (for an id) of a stored item.
    pub fn item_ref(&self, key: ItemKey) -> ItemRef {
        ItemRef::Item {
            mailbox: self.token,
            key,
        }
    }

    /// The reference (for an id) of an occurrence.
    pub fn occurrence_ref(&self, master: ItemKey, original_start: Timestamp) -> ItemRef {
        ItemRef::Occurrence {
            mailbox: self.token,
            master,
            original_start: original_start.as_second(),
        }
    }

    /// Items of a folder in creation order.
    pub fn folder_items(&self, folder: FolderKind) -> impl DoubleEndedIterator<Item = &Item> + '_ {
        self.folders[folder.index()]
            .members
            .iter()
            .filter_map(move |key| self.items.get(key))
    }

    fn index_add(&mut self, key: ItemKey) {
        let Some(item) = self.items.get(&key) else {
            return;
        };
        for (index_key, _) in extended_index_keys(item) {
            self.by_extended.entry(index_key).or_default().insert(key);
        }
        let state = &mut self.folders[item.folder.index()];
        state.members.insert(key);
        if let ItemKind::Calendar(cal) = &item.kind {
            if cal.is_recurring_master() {
                state.masters.insert(key);
            } else {
                state.by_start.insert((cal.start, key));
                state.longest = state.longest.max(cal.end.duration_since(cal.start));
            }
            if item.folder == FolderKind::Calendar && !cal.uid.is_empty() {
                self.by_uid.insert(cal.uid.clone(), key);
            }
        }
    }

    fn index_remove(&mut self, key: ItemKey) {
        let Some(item) = self.items.get(&key) else {
            return;
        };
        for (index_key, _) in extended_index_keys(item) {
            if let Some(keys) = self.by_extended.get_mut(&index_key) {
                keys.remove(&key);
                if keys.is_empty() {
                    self.by_extended.remove(&index_key);
                }
            }
        }
        let state = &mut self.folders[item.folder.index()];
        state.members.remove(&key);
        if let ItemKind::Calendar(cal) = &item.kind {
            state.masters.remove(&key);
            state.by_start.remove(&(cal.start, key));
            if self.by_uid.get(&cal.uid) == Some(&key) {
                self.by_uid.remove(&cal.uid);
            }
        }
    }

    /// Items of a folder whose single-valued `String` extended property `property` equals
    /// `value` (case-insensitive), in creation order.
    pub fn find_by_extended<'a>(
        &'a self,
        folder: FolderKind,
        property: &PropertyKey,
        value: &str,
    ) -> impl Iterator<Item = &'a Item> + 'a {
        self.by_extended
            .get(&(property.clone(), value.to_lowercase()))
            .into_iter()
            .flatten()
            .filter_map(|key| self.items.get(key))
            .filter(move |item| item.folder == folder)
    }

    /// The calendar item (single or master) with an iCalendar `UID`.
    pub fn find_by_uid(&self, folder: FolderKind, uid: &str) -> Option<ItemKey> {
        if folder != FolderKind::Calendar || uid.is_empty() {
            return None;
        }
        self.by_uid.get(uid).copied()
    }

    /// Journals one change of `key` in `folder`; `entered`: when the item entered the folder.
    fn journal(&mut self, folder: FolderKind, seq: u64, key: ItemKey, op: ChangeOp, entered: u64) {
        self.folders[folder.index()].journal.push(JournalEntry {
            seq,
            key,
            op,
            entered,
        });
    }

    fn event(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Raises an event about an item in `folder` (not a move).
    fn item_event(
        &mut self,
        seq: u64,
        now: Timestamp,
        kind: EventKind,
        key: ItemKey,
        folder: FolderKind,
    ) {
        self.event(Event {
            seq,
            time: now,
            kind,
            target: EventTarget::Item(key),
            folder,
            old: None,
        });
    }

    /// Raises the `Modified` event of a folder whose contents changed.
    fn folder_modified(&mut self, seq: u64, now: Timestamp, folder: FolderKind) {
        self.event(Event {
            seq,
            time: now,
            kind: EventKind::Modified,
            target: EventTarget::Folder,
            folder,
            old: None,
        });
    }

    /// A new serial.
    fn new_key(&mut self) -> ItemKey {
        let key = self.next_key;
        self.next_key += 1;
        key
    }

    /// Saves a new item in `folder`; returns its serial.
    pub fn insert(&mut self, folder: FolderKind, mut item: Item, now: Timestamp) -> ItemKey {
        let seq = self.next_change();
        let key = self.new_key();
        item.key = key;
        item.version = seq;
        item.entered = seq;
        item.folder = folder;
        item.created = now;
        item.last_modified = now;
        if item.received == Timestamp::UNIX_EPOCH {
            item.received = now;
        }
        item.field_versions.clear();
        if let Some(cal) = item.calendar_mut() {
            for exception in cal.exceptions.values_mut() {
                exception.key = key;
                exception.version = seq;
                exception.folder = folder;
                exception.created = now;
                exception.last_modified = now;
            }
        }
        let is_mail = matches!(
            item.kind,
            ItemKind::MeetingMessage(_) | ItemKind::Message(_)
        ) && folder == FolderKind::Inbox;
        self.items.insert(key, item);
        self.index_add(key);
        self.journal(folder, seq, key, ChangeOp::Create, seq);
        self.item_event(seq, now, EventKind::Created, key, folder);
        if is_mail {
            self.item_event(seq, now, EventKind::NewMail, key, folder);
        }
        self.folder_modified(seq, now, folder);
        key
    }

    /// Applies `change` to a stored item as one modification: bumps its version, records the
    /// fields named in `fields` as changed at the new version, journals an update and raises a
    /// modified event. Returns `None` if there is no such item.
    pub fn update<R>(
        &mut self,
        key: ItemKey,
        now: Timestamp,
        fields: &[String],
        change: impl FnOnce(&mut Item, u64) -> R,
    ) -> Option<R> {
        if !self.items.contains_key(&key) {
            return None;
        }
        self.index_remove(key);
        let seq = self.next_change();
        let item = self.items.get_mut(&key)?;
        let result = change(item, seq);
        item.version = seq;
        item.last_modified = now;
        for field in fields {
            item.field_versions.insert(field.clone(), seq);
        }
        let folder = item.folder;
        let entered = item.entered;
        self.index_add(key);
        self.journal(folder, seq, key, ChangeOp::Update, entered);
        self.item_event(seq, now, EventKind::Modified, key, folder);
        Some(result)
    }

    /// Deletes an item permanently; returns it.
    pub fn remove(&mut self, key: ItemKey, now: Timestamp) -> Option<Item> {
        self.index_remove(key);
        let item = self.items.remove(&key)?;
        let seq = self.next_change();
        self.journal(item.folder, seq, key, ChangeOp::Delete, item.entered);
        self.item_event(seq, now, EventKind::Deleted, key, item.folder);
        self.folder_modified(seq, now, item.folder);
        Some(item)
    }

    /// Moves an item to another folder. Like Exchange, the moved item gets a new id (serial);
    /// the old one stops resolving. Returns the new serial.
    pub fn move_to(&mut self, key: ItemKey, target: FolderKind, now: Timestamp) -> Option<ItemKey> {
        self.index_remove(key);
        let mut item = self.items.remove(&key)?;
        let seq = self.next_change();
        let source = item.folder;
        self.journal(source, seq, key, ChangeOp::Delete, item.entered);
        let new_key = self.new_key();
        item.key = new_key;
        item.folder = target;
        item.version = seq;
        item.entered = seq;
        item.last_modified = now;
        if let Some(cal) = item.calendar_mut() {
            for exception in cal.exceptions.values_mut() {
                exception.key = new_key;
                exception.folder = target;
            }
        }
        self.items.insert(new_key, item);
        self.index_add(new_key);
        self.journal(target, seq, new_key, ChangeOp::Create, seq);
        self.event(Event {
            seq,
            time: now,
            kind: EventKind::Moved,
            target: EventTarget::Item(new_key),
            folder: target,
            old: Some((key, source)),
        });
        for folder in [source, target] {
            self.folder_modified(seq, now, folder);
        }
        Some(new_key)
    }

    /// The occurrence (or exception) of a master with the given original start, as EWS shows
    /// it; `None` if the series has no such occurrence or it was deleted.
    pub fn occurrence(&self, master: ItemKey, original_start: Timestamp) -> Option<ViewEntry> {
        let item = self.items.get(&master)?;
        let cal = item.calendar()?;
        let recurrence = cal.recurrence.as_ref()?;
        if cal.deleted_occurrences.contains(&original_start) {
            return None;
        }
        let id = self.occurrence_ref(master, original_start);
        if let Some(exception) = cal.exceptions.get(&original_start) {
            return Some(ViewEntry {
                id,
                item: exception.clone(),
            });
        }
        let series = Series::from_master(recurrence, &cal.start_zone, cal.start, cal.end);
        let occurrence = series.find(original_start)?;
        Some(ViewEntry {
            id,
            item: synthesize_occurrence(item, &occurrence),
        })
    }

    /// The occurrence with a 1-based instance index (`OccurrenceItemId`), with its original start.
    pub fn occurrence_by_index(
        &self,
        master: ItemKey,
        index: u32,
    ) -> Result<ViewEntry, OccurrenceLookup> {
        let item = self.items.get(&master).ok_or(OccurrenceLookup::NoMaster)?;
        let cal = item.calendar().ok_or(OccurrenceLookup::NotRecurring)?;
        let recurrence = cal
            .recurrence
            .as_ref()
            .ok_or(OccurrenceLookup::NotRecurring)?;
        let series = Series::from_master(recurrence, &cal.start_zone, cal.start, cal.end);
        let occurrence = series.nth(index).ok_or(OccurrenceLookup::OutOfRange)?;
        if cal.deleted_occurrences.contains(&occurrence.original_start) {
            return Err(OccurrenceLookup::Deleted);
        }
        self.occurrence(master, occurrence.original_start)
            .ok_or(OccurrenceLookup::Deleted)
    }

    /// Whether `original_start` names an occurrence of the series at all (deleted or not).
    pub fn series_has(&self, master: ItemKey, original_start: Timestamp) -> bool {
        let Some(cal) = self.items.get(&master).and_then(Item::calendar) else {
            return false;
        };
        let Some(recurrence) = cal.recurrence.as_ref() else {
            return false;
        };
        Series::from_master(recurrence, &cal.start_zone, cal.start, cal.end)
            .find(original_start)
            .is_some()
    }

    /// Calendar items overlapping `[from, to)` — singles, occurrences and exceptions; an item
    /// ending exactly at `from` is included — sorted by start. `visible` filters stored items
    /// (private items for delegates).
    pub fn calendar_view(
        &self,
        from: Timestamp,
        to: Timestamp,
        visible: impl Fn(&Item) -> bool,
    ) -> Vec<ViewEntry> {
        let state = &self.folders[FolderKind::Calendar.index()];
        let mut entries = Vec::new();
        let scan_from = from.checked_sub(state.longest).unwrap_or(Timestamp::MIN);
        for &(start, key) in state.by_start.range((scan_from, 0)..(to, 0)) {
            let Some(item) = self.items.get(&key) else {
                continue;
            };
            let Some(cal) = item.calendar() else { continue };
            if start < to && cal.end >= from && visible(item) {
                entries.push(ViewEntry {
                    id: self.item_ref(key),
                    item: item.clone(),
                });
            }
        }
        for &key in &state.masters {
            let Some(master) = self.items.get(&key) else {
                continue;
            };
            if !visible(master) {
                continue;
            }
            let Some(cal) = master.calendar() else {
                continue;
            };
            let Some(recurrence) = cal.recurrence.as_ref() else {
                continue;
            };
            let series = Series::from_master(recurrence, &cal.start_zone, cal.start, cal.end);
            for occurrence in series.occurrences_overlapping(from, to) {
                if cal.deleted_occurrences.contains(&occurrence.original_start)
                    || cal.exceptions.contains_key(&occurrence.original_start)
                {
                    continue;
                }
                entries.push(ViewEntry {
                    id: self.occurrence_ref(key, occurrence.original_start),
                    item: synthesize_occurrence(master, &occurrence),
                });
            }
            for (&original_start, exception) in &cal.exceptions {
                let Some(ecal) = exception.calendar() else {
                    continue;
                };
                if ecal.start < to && ecal.end >= from && visible(exception) {
                    entries.push(ViewEntry {
                        id: self.occurrence_ref(key, original_start),
                        item: exception.clone(),
                    });
                }
            }
        }
        entries.sort_by(|a, b| {
            let (ac, bc) = (a.item.calendar(), b.item.calendar());
            (a.start(), ac.map(|c| c.end), a.item.key).cmp(&(
                b.start(),
                bc.map(|c| c.end),
                b.item.key,
            ))
        });
        entries
    }

    /// Changes of `folder` after journal position `from`, collapsed per item, at most
    /// `max_changes` of them. Items in `ignore` are skipped (their changes are consumed).
    /// `visible` hides items from the caller: a hidden item the client may have seen is
    /// reported as deleted.
    pub fn changes_since(
        &self,
        folder: FolderKind,
        from: u64,
        max_changes: usize,
        ignore: &HashSet<ItemKey>,
        visible: impl Fn(&Item) -> bool,
    ) -> SyncPage<'_> {
        let journal = &self.folders[folder.index()].journal;
        let start = journal.partition_point(|e| e.seq <= from);
        let mut seen: HashSet<ItemKey> = HashSet::new();
        let mut changes = Vec::new();
        let mut position = from;
        let mut includes_last = true;
        for entry in &journal[start..] {
            if seen.contains(&entry.key) {
                position = entry.seq;
                continue;
            }
            if changes.len() >= max_changes {
                includes_last = false;
                break;
            }
            seen.insert(entry.key);
            position = entry.seq;
            if ignore.contains(&entry.key) {
                continue;
            }
            let current = self
                .items
                .get(&entry.key)
                .filter(|item| item.folder == folder);
            let change = match current {
                Some(item) if visible(item) => {
                    if item.entered > from {
                        Some(SyncChange::Create(item))
                    } else {
                        Some(SyncChange::Update(item))
                    }
                }
                Some(item) => (item.entered <= from).then_some(SyncChange::Delete(entry.key)),
                None => (entry.entered <= from).then_some(SyncChange::Delete(entry.key)),
            };
            if let Some(change) = change {
                changes.push(change);
            }
        }
        if includes_last {
            position = position.max(journal.last().map(|e| e.seq).unwrap_or(from));
        }
        SyncPage {
            changes,
            position,
            includes_last,
        }
    }

    /// The highest journal position of a folder (0 when it never changed).
    pub fn journal_head(&self, folder: FolderKind) -> u64 {
        self.folders[folder.index()]
            .journal
            .last()
            .map(|e| e.seq)
            .unwrap_or(0)
    }

    /// The whole event log; an event's watermark position is its index + 1.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Events after watermark position `from`, in order.
    pub fn events_since(&self, from: u64) -> &[Event] {
        let start = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(self.events.len());
        &self.events[start..]
    }

    /// The watermark position after the newest event.
    pub fn event_position(&self) -> u64 {
        self.events.len() as u64
    }
}

/// The extended-property index entries of an item.
fn extended_index_keys(item: &Item) -> Vec<((PropertyKey, String), ())> {
    item.extended
        .iter()
        .filter(|p| p.uri.property_type() == "String")
        .filter_map(|p| match &p.value {
            ExtendedValue::Single(v) => Some(((p.uri.key(), v.to_lowercase()), ())),
            ExtendedValue::Multi(_) => None,
        })
        .collect()
}

/// Why an `OccurrenceItemId` does not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OccurrenceLookup {
    /// The master does not exist (`ErrorItemNotFound`).
    NoMaster,
    /// The item is not a recurring master (`ErrorCalendarCannotUseIdForRecurringMasterId`).
    NotRecurring,
    /// The index is beyond the series (`ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange`).
    OutOfRange,
    /// The occurrence was deleted (`ErrorCalendarOccurrenceIsDeletedFromRecurrence`).
    Deleted,
}

/// Builds the occurrence item EWS shows for a generated occurrence of `master`.
pub fn synthesize_occurrence(master: &Item, occurrence: &Occurrence) -> Item {
    let mut item = Item {
        key: master.key,
        version: master.version,
        entered: master.entered,
        folder: master.folder,
        item_class: master.item_class.clone(),
        subject: master.subject.clone(),
        body: master.body.clone(),
        sensitivity: master.sensitivity,
        importance: master.importance,
        categories: master.categories.clone(),
        reminder_is_set: master.reminder_is_set,
        reminder_minutes: master.reminder_minutes,
        extended: master.extended.clone(),
        created: master.created,
        last_modified: master.last_modified,
        last_modified_name: master.last_modified_name.clone(),
        creator: master.creator.clone(),
        received: master.received,
        field_versions: HashMap::new(),
        kind: ItemKind::Message(Default::default()),
    };
    if let Some(cal) = master.calendar() {
        item.kind = ItemKind::Calendar(occurrence_calendar(
            cal,
            occurrence,
            CalendarItemType::Occurrence,
        ));
    }
    item
}

/// Calendar data of an occurrence of `master` (no recurrence, no exceptions).
pub fn occurrence_calendar(
    master: &CalendarItem,
    occurrence: &Occurrence,
    item_type: CalendarItemType,
) -> CalendarItem {
    CalendarItem {
        start: occurrence.start,
        end: occurrence.end,
        start_zone: master.start_zone.clone(),
        end_zone: master.end_zone.clone(),
        is_all_day: master.is_all_day,
        location: master.location.clone(),
        organizer: master.organizer.clone(),
        required_attendees: master.required_attendees.clone(),
        optional_attendees: master.optional_attendees.clone(),
        resources: master.resources.clone(),
        free_busy: master.free_busy,
        is_cancelled: master.is_cancelled,
        is_meeting: master.is_meeting,
        meeting_request_was_sent: master.meeting_request_was_sent,
        my_response_type: master.my_response_type,
        sequence_number: master.sequence_number,
        item_type,
        uid: master.uid.clone(),
        recurrence: None,
        exceptions: Default::default(),
        deleted_occurrences: Default::default(),
        original_start: Some(occurrence.original_start),
        reply_time: master.reply_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::item::{ItemKind, Sensitivity};
    use crate::calendar::recurrence::{Pattern, Range, Recurrence};
    use jiff::civil::{Weekday, date};

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn appointment(subject: &str, start: &str, end: &str) -> Item {
        let mut item = Item::new(ItemKind::Calendar(CalendarItem::new(ts(start), ts(end))));
        item.subject = subject.into();
        item
    }

    fn weekly_master(subject: &str) -> Item {
        let mut item = appointment(subject, "2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z");
        let cal = item.calendar_mut().unwrap();
        cal.item_type = CalendarItemType::RecurringMaster;
        cal.recurrence = Some(Recurrence {
            pattern: Pattern::Weekly {
                interval: 1,
                days: vec![Weekday::Monday],
                first_day_of_week: Weekday::Sunday,
            },
            range: Range::Numbered {
                start: date(2026, 1, 5),
                count: 4,
            },
        });
        item
    }

    const NOW: &str = "2026-01-01T00:00:00Z";

    /// Inserts an appointment into the calendar at `NOW`.
    fn add(mb: &mut Mailbox, subject: &str, start: &str, end: &str) -> ItemKey {
        mb.insert(
            FolderKind::Calendar,
            appointment(subject, start, end),
            ts(NOW),
        )
    }

    #[test]
    fn insert_update_and_remove_bump_versions_and_journal() {
        let mut mb = Mailbox::new("room@contoso.com");
        let key = add(&mut mb, "A", "2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z");
        let v1 = mb.get(key).unwrap().version;
        mb.update(key, ts(NOW), &["item:Subject".into()], |item, _| {
            item.subject = "B".into()
        })
        .unwrap();
        let item = mb.get(key).unwrap();
        assert!(item.version > v1);
        assert_eq!(item.field_version("item:Subject"), item.version);
        assert_eq!(item.field_version("calendar:Start"), 0);
        assert!(mb.remove(key, ts(NOW)).is_some());
        assert!(mb.get(key).is_none());
        assert!(mb.update(key, ts(NOW), &[], |_, _| ()).is_none());
        assert_eq!(mb.journal_head(FolderKind::Calendar), mb.current_change());
    }

    #[test]
    fn sync_reports_creates_then_collapses_updates_and_deletes() {
        let mut mb = Mailbox::new("a@contoso.com");
        let a = add(&mut mb, "A", "2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z");
        let b = add(&mut mb, "B", "2026-01-03T09:00:00Z", "2026-01-03T10:00:00Z");
        mb.update(a, ts(NOW), &[], |item, _| item.subject = "A2".into());
        let none = HashSet::new();
        let first = mb.changes_since(FolderKind::Calendar, 0, 512, &none, |_| true);
        assert!(first.includes_last);
        assert_eq!(first.changes.len(), 2);
        assert!(matches!(first.changes[0], SyncChange::Create(item) if item.subject == "A2"));
        assert!(matches!(first.changes[1], SyncChange::Create(item) if item.subject == "B"));
        let first_position = first.position;

        // Created and deleted between two syncs: nothing to report.
        let c = add(&mut mb, "C", "2026-01-04T09:00:00Z", "2026-01-04T10:00:00Z");
        mb.remove(c, ts(NOW));
        mb.update(b, ts(NOW), &[], |item, _| item.subject = "B2".into());
        mb.update(b, ts(NOW), &[], |item, _| item.subject = "B3".into());
        mb.remove(a, ts(NOW));
        let second = mb.changes_since(FolderKind::Calendar, first_position, 512, &none, |_| true);
        assert_eq!(second.changes.len(), 2, "{:?}", second.changes);
        assert!(matches!(second.changes[0], SyncChange::Update(item) if item.subject == "B3"));
        assert_eq!(second.changes[1], SyncChange::Delete(a));
        let third = mb.changes_since(FolderKind::Calendar, second.position, 512, &none, |_| true);
        assert!(third.changes.is_empty());
        assert!(third.includes_last);
        assert_eq!(third.position, second.position);
    }

    #[test]
    fn sync_pages_never_lose_a_change() {
        let mut mb = Mailbox::new("a@contoso.com");
        let keys: Vec<ItemKey> = (0..10)
            .map(|i| {
                add(
                    &mut mb,
                    &format!("I{i}"),
                    "2026-01-02T09:00:00Z",
                    "2026-01-02T10:00:00Z",
                )
            })
            .collect();
        // Item 0 changes after the first page boundary.
        mb.update(keys[0], ts(NOW), &[], |item, _| item.subject = "I0b".into());
        let none = HashSet::new();
        let mut position = 0;
        let mut seen = Vec::new();
        loop {
            let page = mb.changes_since(FolderKind::Calendar, position, 3, &none, |_| true);
            assert!(page.changes.len() <= 3);
            for change in &page.changes {
                match change {
                    SyncChange::Create(item) | SyncChange::Update(item) => {
                        seen.push(item.subject.clone())
                    }
                    SyncChange::Delete(_) => panic!("nothing was deleted"),
                }
            }
            position = page.position;
            if page.includes_last {
                break;
            }
        }
        for i in 1..10 {
            assert!(
                seen.contains(&format!("I{i}")),
                "I{i} missing from {seen:?}"
            );
        }
        assert_eq!(seen.last().map(String::as_str), Some("I0b"));
    }

    #[test]
    fn ignored_and_hidden_items_are_handled() {
        let mut mb = Mailbox::new("a@contoso.com");
        let a = add(&mut mb, "A", "2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z");
        let b = add(&mut mb, "B", "2026-01-03T09:00:00Z", "2026-01-03T10:00:00Z");
        let not_private = |item: &Item| item.sensitivity != Sensitivity::Private;
        let ignore: HashSet<ItemKey> = [a].into_iter().collect();
        let page = mb.changes_since(FolderKind::Calendar, 0, 512, &ignore, not_private);
        assert_eq!(page.changes.len(), 1);
        let page_position = page.position;
        // B becomes private: a delegate without CanViewPrivateItems sees it disappear.
        mb.update(b, ts(NOW), &[], |item, _| {
            item.sensitivity = Sensitivity::Private
        });
        let later = mb.changes_since(
            FolderKind::Calendar,
            page_position,
            512,
            &HashSet::new(),
            not_private,
        );
        assert_eq!(later.changes, vec![SyncChange::Delete(b)]);
    }

    #[test]
    fn moving_gives_a_new_id_and_journals_both_folders() {
        let mut mb = Mailbox::new("a@contoso.com");
        let a = add(&mut mb, "A", "2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z");
        let head = mb.current_change();
        let event_head = mb.event_position();
        let moved = mb.move_to(a, FolderKind::DeletedItems, ts(NOW)).unwrap();
        assert_ne!(moved, a);
        assert!(mb.get(a).is_none());
        assert_eq!(mb.get(moved).unwrap().folder, FolderKind::DeletedItems);
        let none = HashSet::new();
        let cal = mb.changes_since(FolderKind::Calendar, head, 512, &none, |_| true);
        assert_eq!(cal.changes, vec![SyncChange::Delete(a)]);
        let deleted = mb.changes_since(FolderKind::DeletedItems, head, 512, &none, |_| true);
        assert!(matches!(deleted.changes[..], [SyncChange::Create(item)] if item.key == moved));
        let moved_event = mb
            .events_since(event_head)
            .iter()
            .find(|e| e.kind == EventKind::Moved)
            .unwrap();
        assert_eq!(moved_event.old, Some((a, FolderKind::Calendar)));
    }

    #[test]
    fn calendar_view_expands_series_and_applies_exceptions() {
        let mut mb = Mailbox::new("a@contoso.com");
        let master = mb.insert(FolderKind::Calendar, weekly_master("Weekly"), ts(NOW));
        add(
            &mut mb,
            "Single",
            "2026-01-13T09:00:00Z",
            "2026-01-13T10:00:00Z",
        );
        // Long item that started before the window.
        add(
            &mut mb,
            "Long",
            "2025-12-20T00:00:00Z",
            "2026-01-06T00:00:00Z",
        );
        let second: Timestamp = ts("2026-01-12T09:00:00Z");
        let third: Timestamp = ts("2026-01-19T09:00:00Z");
        mb.update(master, ts(NOW), &[], |item, _| {
            let cal = item.calendar_mut().unwrap();
            cal.deleted_occurrences.insert(second);
            let mut exception =
                appointment("Moved", "2026-01-21T15:00:00Z", "2026-01-21T16:00:00Z");
            let ecal = exception.calendar_mut().unwrap();
            ecal.item_type = CalendarItemType::Exception;
            ecal.original_start = Some(third);
            cal.exceptions.insert(third, exception);
        });
        let view = mb.calendar_view(
            ts("2026-01-05T00:00:00Z"),
            ts("2026-02-01T00:00:00Z"),
            |_| true,
        );
        let summary: Vec<(String, String, &str)> = view
            .iter()
            .map(|e| {
                let cal = e.item.calendar().unwrap();
                (
                    e.item.subject.clone(),
                    cal.start.to_string(),
                    cal.item_type.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Long".into(), "2025-12-20T00:00:00Z".into(), "Single"),
                ("Weekly".into(), "2026-01-05T09:00:00Z".into(), "Occurrence"),
                ("Single".into(), "2026-01-13T09:00:00Z".into(), "Single"),
                ("Moved".into(), "2026-01-21T15:00:00Z".into(), "Exception"),
                ("Weekly".into(), "2026-01-26T09:00:00Z".into(), "Occurrence"),
            ]
        );
        assert!(matches!(view[1].id, ItemRef::Occurrence { master: m, .. } if m == master));
        assert!(mb.occurrence(master, second).is_none());
        assert_eq!(mb.occurrence(master, third).unwrap().item.subject, "Moved");
        assert_eq!(
            mb.occurrence_by_index(master, 2),
            Err(OccurrenceLookup::Deleted)
        );
        assert_eq!(
            mb.occurrence_by_index(master, 5),
            Err(OccurrenceLookup::OutOfRange)
        );
        assert_eq!(
            mb.occurrence_by_index(master, 4)
                .unwrap()
                .item
                .calendar()
                .unwrap()
                .start
                .to_string(),
            "2026-01-26T09:00:00Z"
        );
    }

    #[test]
    fn the_extended_property_index_follows_updates_and_deletes() {
        use crate::calendar::item::{ExtendedFieldUri, ExtendedProperty, PropertySet};
        let uri = ExtendedFieldUri::Named {
            set: PropertySet::Distinguished("PublicStrings".into()),
            name: "RoomsBookingId".into(),
            property_type: "String".into(),
        };
        let tag = |value: &str| ExtendedProperty {
            uri: uri.clone(),
            value: ExtendedValue::Single(value.into()),
        };
        let mut mb = Mailbox::new("a@contoso.com");
        let mut item = appointment("Tagged", "2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z");
        item.set_extended_property(tag("B-1"));
        let key = mb.insert(FolderKind::Calendar, item, ts(NOW));
        let found = |mb: &Mailbox, value: &str| {
            mb.find_by_extended(FolderKind::Calendar, &uri.key(), value)
                .map(|i| i.key)
                .collect::<Vec<_>>()
        };
        assert_eq!(found(&mb, "b-1"), vec![key]);
        mb.update(key, ts(NOW), &[], |item, _| {
            item.set_extended_property(tag("B-2"))
        });
        assert!(found(&mb, "B-1").is_empty());
        assert_eq!(found(&mb, "B-2"), vec![key]);
        let moved = mb.move_to(key, FolderKind::DeletedItems, ts(NOW)).unwrap();
        assert!(found(&mb, "B-2").is_empty());
        assert_eq!(
            mb.find_by_extended(FolderKind::DeletedItems, &uri.key(), "B-2")
                .map(|i| i.key)
                .collect::<Vec<_>>(),
            vec![moved]
        );
    }

    #[test]
    fn calendar_view_uses_the_start_index_on_large_mailboxes() {
        let mut mb = Mailbox::new("big@contoso.com");
        let base = ts("2020-01-01T00:00:00Z");
        for i in 0..20_000i64 {
            let start = base.checked_add(SignedDuration::from_hours(i)).unwrap();
            let end = start.checked_add(SignedDuration::from_mins(30)).unwrap();
            let mut item = Item::new(ItemKind::Calendar(CalendarItem::new(start, end)));
            item.subject = format!("S{i}");
            mb.insert(FolderKind::Calendar, item, ts(NOW));
        }
        let from = base.checked_add(SignedDuration::from_hours(100)).unwrap();
        let to = base.checked_add(SignedDuration::from_hours(110)).unwrap();
        let view = mb.calendar_view(from, to, |_| true);
        assert_eq!(view.len(), 10);
        assert_eq!(view[0].item.subject, "S100");
    }
}
