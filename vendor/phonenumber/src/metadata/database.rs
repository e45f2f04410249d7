// Copyright (C) 2017 1aim GmbH
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

use crate::error;
use crate::metadata::loader;
use crate::Metadata;
use fnv::FnvHashMap;
use once_cell::sync::Lazy;
use regex_cache::{CachedRegex, CachedRegexBuilder, RegexCache};
use std::borrow::Borrow;
use std::fs::File;
use std::hash::Hash;
use std::io::{BufReader, Cursor};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

// LEADRELAY PATCH: the bundled metadata is one serialised blob per region, indexed by
// `INDEX` (both written by build.rs), and a region is built the first time it is asked for.
// Building all 254 regions at once took 1.8 MB of heap and 3 ms (release), most of which a
// Lambda reading a few countries' numbers never uses (see PATCHED.md).
const DATABASE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/database.bin"));
include!(concat!(env!("OUT_DIR"), "/database_index.rs"));

/// The Google provided metadata database, used as default.
pub static DEFAULT: Lazy<Database> = Lazy::new(Database::bundled);

/// Representation of a database of metadata for phone number.
#[derive(Clone, Debug)]
pub struct Database {
    cache: Arc<Mutex<RegexCache>>,
    entries: Vec<Entry>,
    by_id: FnvHashMap<String, usize>,
    by_code: FnvHashMap<u16, Vec<usize>>,
    regions: FnvHashMap<u16, Vec<String>>,
}

/// One region's metadata: built already, or serialised in the bundled database and built
/// when first used (boxed: 254 unbuilt regions held inline took 700 KB). `None` once built
/// if the bundled bytes could not be read, which every build with debug assertions rules out
/// (`Database::bundled`): the region is then unknown rather than a panic in the caller.
#[derive(Clone, Debug)]
struct Entry {
    serialized: &'static [u8],
    built: OnceLock<Option<Box<Metadata>>>,
}

impl Database {
    /// Load a database from the given file.
    pub fn load<P: AsRef<Path>>(path: P) -> Result<Self, error::LoadMetadata> {
        Database::from(loader::load(BufReader::new(File::open(path)?))?)
    }

    /// Parse a database from the given string.
    pub fn parse<S: AsRef<str>>(content: S) -> Result<Self, error::LoadMetadata> {
        Database::from(loader::load(Cursor::new(content.as_ref()))?)
    }

    /// Create a database from a loaded database.
    pub fn from(meta: Vec<loader::Metadata>) -> Result<Self, error::LoadMetadata> {
        let mut database = Database::empty();
        for meta in meta {
            let meta = build(meta, &database.cache)?;
            let (id, code, main) = (
                meta.id.clone(),
                meta.country_code,
                meta.main_country_for_code,
            );
            let entry = Entry {
                serialized: &[],
                built: OnceLock::from(Some(Box::new(meta))),
            };
            database.insert(id, code, main, entry);
        }
        Ok(database)
    }

    /// The bundled database, each region built when first used. Builds with debug assertions
    /// (every test run) build every region once here, so that a bad pattern or blob fails
    /// there, and drop the result: the tests then take the same build-on-first-use path as a
    /// release build, at the price of building twice what they use.
    fn bundled() -> Database {
        let mut database = Database::empty();
        for &(id, code, main, start, end) in INDEX {
            let entry = Entry {
                serialized: &DATABASE[start..end],
                built: OnceLock::new(),
            };
            database.insert(id.to_owned(), code, main, entry);
        }
        if cfg!(debug_assertions) {
            for (entry, region) in database.entries.iter().zip(INDEX) {
                if let Err(err) = build_bundled(entry.serialized, &database.cache) {
                    panic!("bundled metadata for {}: {err}", region.0);
                }
            }
        }
        database
    }

    fn empty() -> Database {
        Database {
            cache: Arc::new(Mutex::new(RegexCache::new(100))),
            entries: Vec::new(),
            by_id: FnvHashMap::default(),
            by_code: FnvHashMap::default(),
            regions: FnvHashMap::default(),
        }
    }

    fn insert(&mut self, id: String, code: u16, main: bool, entry: Entry) {
        let index = self.entries.len();
        self.entries.push(entry);
        self.by_id.insert(id.clone(), index);
        let by_code = self.by_code.entry(code).or_default();
        let regions = self.regions.entry(code).or_default();
        if main {
            by_code.insert(0, index);
            regions.insert(0, id);
        } else {
            by_code.push(index);
            regions.push(id);
        }
    }

    fn get(&self, index: usize) -> Option<&Metadata> {
        let entry = &self.entries[index];
        entry
            .built
            .get_or_init(|| {
                build_bundled(entry.serialized, &self.cache)
                    .ok()
                    .map(Box::new)
            })
            .as_deref()
    }
}

/// Reads and builds one region of the bundled database.
fn build_bundled(
    serialized: &[u8],
    cache: &Arc<Mutex<RegexCache>>,
) -> Result<Metadata, error::LoadMetadata> {
    let meta: loader::Metadata = postcard::from_bytes(serialized)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err.to_string()))?;
    build(meta, cache)
}

/// Builds a region's metadata from its loaded form (upstream's `Database::from`, per region).
fn build(
    meta: loader::Metadata,
    cache: &Arc<Mutex<RegexCache>>,
) -> Result<Metadata, error::LoadMetadata> {
    fn tranpose<T, E>(value: Option<Result<T, E>>) -> Result<Option<T>, E> {
        match value {
            None => Ok(None),

            Some(Ok(value)) => Ok(Some(value)),

            Some(Err(err)) => Err(err),
        }
    }

    // LEADRELAY PATCH: the bundled metadata's patterns are checked once, in builds with debug
    // assertions (every test run), not at each process start: checking the syntax of its
    // thousands of patterns took 100-150 ms of a Lambda's cold start (see PATCHED.md).
    // Each is still compiled when first used, as before.
    let regex = |value: String| -> Result<CachedRegex, error::LoadMetadata> {
        let mut builder = CachedRegexBuilder::new(cache.clone(), &value);
        builder.ignore_whitespace(true);
        // LEADRELAY PATCH: without Unicode. These patterns only ever see digits the parser has
        // normalised to ASCII, and a Unicode `\d` compiles to a UTF-8 automaton: a third of the
        // time the first number took (see PATCHED.md).
        builder.unicode(false);
        if cfg!(debug_assertions) {
            Ok(builder.build()?)
        } else {
            Ok(builder.build_unchecked())
        }
    };

    let descriptor = |desc: loader::Descriptor| -> Result<super::Descriptor, error::LoadMetadata> {
        desc.national_number.as_ref().unwrap();
        desc.national_number.as_ref().unwrap();

        Ok(super::Descriptor {
            national_number: desc
                .national_number
                .ok_or_else(|| {
                    error::LoadMetadata::from(error::Metadata::MissingValue {
                        phase: "descriptor".into(),
                        name: "national_number".into(),
                    })
                })
                .and_then(regex)?,

            possible_length: desc.possible_length,
            possible_local_length: desc.possible_local_length,
            example: desc.example,
        })
    };

    let format = |format: loader::Format| -> Result<super::Format, error::LoadMetadata> {
        Ok(super::Format {
            pattern: format
                .pattern
                .ok_or_else(|| {
                    error::LoadMetadata::from(error::Metadata::MissingValue {
                        phase: "format".into(),
                        name: "pattern".into(),
                    })
                })
                .and_then(regex)?,

            format: format.format.ok_or_else(|| {
                error::LoadMetadata::from(error::Metadata::MissingValue {
                    phase: "format".into(),
                    name: "format".into(),
                })
            })?,

            leading_digits: format
                .leading_digits
                .into_iter()
                .map(&regex)
                .collect::<Result<_, _>>()?,

            national_prefix: format.national_prefix_formatting_rule,
            national_prefix_optional: format.national_prefix_optional_when_formatting,

            domestic_carrier: format.domestic_carrier,
        })
    };

    let metadata = |meta: loader::Metadata| -> Result<super::Metadata, error::LoadMetadata> {
        Ok(super::Metadata {
            descriptors: super::Descriptors {
                general: descriptor(meta.general.ok_or_else(|| {
                    error::LoadMetadata::from(error::Metadata::MissingValue {
                        phase: "metadata".into(),
                        name: "generalDesc".into(),
                    })
                })?)?,

                fixed_line: tranpose(meta.fixed_line.map(descriptor))?,
                mobile: tranpose(meta.mobile.map(descriptor))?,
                toll_free: tranpose(meta.toll_free.map(descriptor))?,
                premium_rate: tranpose(meta.premium_rate.map(descriptor))?,
                shared_cost: tranpose(meta.shared_cost.map(descriptor))?,
                personal_number: tranpose(meta.personal_number.map(descriptor))?,
                voip: tranpose(meta.voip.map(descriptor))?,
                pager: tranpose(meta.pager.map(descriptor))?,
                uan: tranpose(meta.uan.map(descriptor))?,
                emergency: tranpose(meta.emergency.map(descriptor))?,
                voicemail: tranpose(meta.voicemail.map(descriptor))?,
                short_code: tranpose(meta.short_code.map(descriptor))?,
                standard_rate: tranpose(meta.standard_rate.map(descriptor))?,
                carrier: tranpose(meta.carrier.map(descriptor))?,
                no_international: tranpose(meta.no_international.map(descriptor))?,
            },

            id: meta.id.ok_or_else(|| {
                error::LoadMetadata::from(error::Metadata::MissingValue {
                    phase: "metadata".into(),
                    name: "id".into(),
                })
            })?,

            country_code: meta.country_code.ok_or_else(|| {
                error::LoadMetadata::from(error::Metadata::MissingValue {
                    phase: "metadata".into(),
                    name: "countryCode".into(),
                })
            })?,

            international_prefix: tranpose(meta.international_prefix.map(regex))?,
            preferred_international_prefix: meta.preferred_international_prefix,
            national_prefix: meta.national_prefix,
            preferred_extension_prefix: meta.preferred_extension_prefix,
            national_prefix_for_parsing: tranpose(meta.national_prefix_for_parsing.map(regex))?,
            national_prefix_transform_rule: meta.national_prefix_transform_rule,

            formats: meta
                .formats
                .into_iter()
                .map(&format)
                .collect::<Result<_, _>>()?,
            international_formats: meta
                .international_formats
                .into_iter()
                .map(&format)
                .collect::<Result<_, _>>()?,

            main_country_for_code: meta.main_country_for_code,
            leading_digits: tranpose(meta.leading_digits.map(regex))?,
            mobile_number_portable: meta.mobile_number_portable,
        })
    };

    metadata(meta)
}

impl Database {
    /// Get the regular expression cache.
    pub fn cache(&self) -> Arc<Mutex<RegexCache>> {
        self.cache.clone()
    }

    /// Get a metadata entry by country ID.
    pub fn by_id<Q>(&self, key: &Q) -> Option<&super::Metadata>
    where
        Q: ?Sized + Hash + Eq,
        String: Borrow<Q>,
    {
        self.by_id.get(key).and_then(|&index| self.get(index))
    }

    /// Get metadata entries by country code.
    pub fn by_code<Q>(&self, key: &Q) -> Option<Vec<&super::Metadata>>
    where
        Q: ?Sized + Hash + Eq,
        u16: Borrow<Q>,
    {
        self.by_code
            .get(key)
            .map(|m| m.iter().filter_map(|&index| self.get(index)).collect())
    }

    /// Get all country IDs corresponding to the given country code.
    pub fn region<Q>(&self, code: &Q) -> Option<Vec<&str>>
    where
        Q: ?Sized + Hash + Eq,
        u16: Borrow<Q>,
    {
        self.regions
            .get(code)
            .map(|m| m.iter().map(AsRef::as_ref).collect())
    }

    /// Iterator over all `Metadata` entries in this database.
    pub fn iter(&self) -> impl Iterator<Item = &Metadata> {
        (0..self.entries.len()).filter_map(|index| self.get(index))
    }
}
