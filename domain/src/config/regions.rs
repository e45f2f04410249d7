//! Named sets of countries for `in_region` conditions.

use super::{Config, ConfigError};
use crate::condition::Condition;

impl Config {
    /// Fills every `in_region` condition with its region's countries.
    pub(super) fn expand_regions(&mut self) -> Result<(), ConfigError> {
        let regions = self.regions.clone();
        let origin = self.origin.clone();
        let expand = |key: String, c: &mut Condition| -> Result<(), ConfigError> {
            if let Some(name) = &c.in_region {
                c.region_countries =
                    regions
                        .get(name)
                        .cloned()
                        .ok_or_else(|| ConfigError::Invalid {
                            origin: origin.clone(),
                            key,
                            message: format!(
                                "unknown region {name:?}; define it under [regions] ({})",
                                regions.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        })?;
            }
            Ok(())
        };
        for (i, r) in self.routing.rules.iter_mut().enumerate() {
            for (j, c) in r.when.iter_mut().enumerate() {
                expand(format!("routing.rules[{i}].when[{j}].in_region"), c)?;
            }
        }
        for (i, r) in self.scoring.rules.iter_mut().enumerate() {
            for (j, c) in r.when.iter_mut().enumerate() {
                expand(format!("scoring.rules[{i}].when[{j}].in_region"), c)?;
            }
        }
        Ok(())
    }
}
