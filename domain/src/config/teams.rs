//! Teams and their owners: who takes leads, on which calendar, with which limits.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_map;
use super::{check_email, is_slug, Config, ConfigError};
use crate::calendar::BusinessCalendar;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// Who hears about leads nobody in the team could take.
    pub manager_email: String,
    /// The business-hours calendar (a name under `[calendars]`) the team's SLA counts on;
    /// none: every hour counts.
    #[serde(default)]
    pub calendar: Option<String>,
    pub owners: Vec<OwnerConfig>,
    /// What happens to a lead when nobody in the team is available (all away, off shift or
    /// at capacity).
    #[serde(default)]
    pub when_none_available: NoneAvailable,
    /// The owner who takes leads now when nobody is available (`fallback_owner` policy).
    #[serde(default)]
    pub fallback_owner: Option<String>,
    /// Speed-to-lead targets for this team's leads, by grade or tier, over `[sla.targets]`.
    #[serde(default, with = "humantime_map")]
    pub sla_targets: BTreeMap<String, Duration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoneAvailable {
    /// The owner who is available soonest takes it; their SLA counts from their opening.
    #[default]
    NextAvailable,
    /// The team's `fallback_owner` takes it now.
    FallbackOwner,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OwnerConfig {
    pub id: String,
    pub name: String,
    pub email: String,
    pub manager_email: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// The owner's own calendar (a name under `[calendars]`), over the team's: their working
    /// hours and holidays, for availability and the SLA.
    #[serde(default)]
    pub calendar: Option<String>,
    /// Share of the team's leads relative to the others' (2 takes twice as many as 1).
    #[serde(default = "one_u32")]
    pub weight: u32,
    /// Most leads a day (in the owner's time zone), when set.
    #[serde(default)]
    pub max_per_day: Option<u32>,
    /// Most leads a week (ISO week, Monday to Sunday), when set.
    #[serde(default)]
    pub max_per_week: Option<u32>,
}

fn one_u32() -> u32 {
    1
}

fn yes() -> bool {
    true
}

impl Config {
    /// Teams, their owners' ids and addresses, and the calendars they name.
    pub(super) fn validate_owners(&self) -> Result<(), ConfigError> {
        if self.teams.is_empty() {
            return Err(self.invalid("teams", "at least one team is needed"));
        }
        let mut owner_ids = std::collections::BTreeSet::new();
        for (name, team) in &self.teams {
            let key = format!("teams.{name}");
            check_email(&team.manager_email)
                .map_err(|m| self.invalid(format!("{key}.manager_email"), m))?;
            for (i, owner) in team.owners.iter().enumerate() {
                let okey = format!("{key}.owners[{i}]");
                if !is_slug(&owner.id) {
                    return Err(self.invalid(
                        format!("{okey}.id"),
                        "owner ids use lower-case letters, digits, dashes and underscores",
                    ));
                }
                if !owner_ids.insert(owner.id.clone()) {
                    // One owner id means one person everywhere: their load, their away status.
                    return Err(self.invalid(
                        format!("{okey}.id"),
                        format!("owner {:?} is defined twice", owner.id),
                    ));
                }
                check_email(&owner.email).map_err(|m| self.invalid(format!("{okey}.email"), m))?;
                check_email(&owner.manager_email)
                    .map_err(|m| self.invalid(format!("{okey}.manager_email"), m))?;
            }
        }
        for (name, team) in &self.teams {
            let refs = team
                .calendar
                .iter()
                .map(|c| (format!("teams.{name}.calendar"), c))
                .chain(team.owners.iter().enumerate().filter_map(|(i, o)| {
                    o.calendar
                        .as_ref()
                        .map(|c| (format!("teams.{name}.owners[{i}].calendar"), c))
                }));
            for (key, calendar) in refs {
                if !self.calendars.contains_key(calendar) {
                    return Err(self.invalid(key, format!("unknown calendar {calendar:?}")));
                }
            }
        }
        Ok(())
    }

    /// Weights, what happens when nobody is available, and the team's own SLA targets
    /// (these need the scoring tiers and grades, read as written).
    pub(super) fn validate_team_policies(&self) -> Result<(), ConfigError> {
        for (name, team) in &self.teams {
            let key = format!("teams.{name}");
            for (i, o) in team.owners.iter().enumerate() {
                if o.weight == 0 {
                    return Err(self.invalid(
                        format!("{key}.owners[{i}].weight"),
                        "must be at least 1 (set active = false to take an owner out)",
                    ));
                }
            }
            match (&team.when_none_available, &team.fallback_owner) {
                (NoneAvailable::FallbackOwner, None) => {
                    return Err(self.invalid(
                        format!("{key}.fallback_owner"),
                        "when_none_available = \"fallback_owner\" needs a fallback_owner",
                    ))
                }
                (_, Some(o)) if self.owner(o).is_none() => {
                    return Err(self.invalid(
                        format!("{key}.fallback_owner"),
                        format!("unknown owner {o:?}"),
                    ))
                }
                _ => {}
            }
            for (k, d) in &team.sla_targets {
                self.check_sla_key(&format!("{key}.sla_targets.{k}"), k, d)?;
            }
        }
        Ok(())
    }

    /// Every owner, with their team.
    pub fn owners(&self) -> impl Iterator<Item = (&str, &OwnerConfig)> {
        self.teams
            .iter()
            .flat_map(|(team, t)| t.owners.iter().map(move |o| (team.as_str(), o)))
    }

    /// The team an owner belongs to.
    pub fn team_of(&self, owner_id: &str) -> Option<&str> {
        self.owners()
            .find(|(_, o)| o.id == owner_id)
            .map(|(t, _)| t)
    }

    /// The calendar an owner's SLA counts on: the owner's own, else the team's.
    pub fn calendar_for(&self, team: &str, owner_id: &str) -> Option<&BusinessCalendar> {
        let t = self.teams.get(team)?;
        let owner = t.owners.iter().find(|o| o.id == owner_id);
        owner
            .and_then(|o| o.calendar.as_ref())
            .or(t.calendar.as_ref())
            .and_then(|name| self.calendars.get(name))
    }

    pub fn owner(&self, id: &str) -> Option<&OwnerConfig> {
        self.owners().map(|(_, o)| o).find(|o| o.id == id)
    }
}
