//! Business-hours calendars, built once at load so SLA counting finds them ready.

use std::collections::BTreeMap;

use super::{Config, ConfigError};
use crate::calendar::CalendarConfig;

impl Config {
    /// A calendar's own message starts with the key inside it (`"hours.mon: ..."`), which the
    /// error's key takes, so the error points at the line to fix.
    pub(super) fn build_calendars(
        &mut self,
        calendars: &BTreeMap<String, CalendarConfig>,
    ) -> Result<(), ConfigError> {
        for (name, c) in calendars {
            let calendar = c.build().map_err(|m| {
                self.invalid(
                    format!(
                        "calendars.{name}.{}",
                        m.split_once(": ").map(|(k, _)| k).unwrap_or("")
                    )
                    .trim_end_matches('.'),
                    m.split_once(": ").map(|(_, m)| m).unwrap_or(&m),
                )
            })?;
            self.calendars.insert(name.clone(), calendar);
        }
        Ok(())
    }
}
