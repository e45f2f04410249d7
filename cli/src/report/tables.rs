//! The report as tables: one model for the terminal, the CSV files and the HTML page.

use leadrelay_domain::report::{
    Distribution, Elapsed, Report, SlaRow, SourceRow, SpeedRow, Velocity, AGES, BANDS,
};

/// One cell: the text shown (`3h05m`, `42%`) and the value a spreadsheet gets (`11100`,
/// `0.4200`): times in seconds, shares as fractions of 1, money with two decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub raw: String,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            raw: text.clone(),
            text,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_owned())
    }
}

impl Cell {
    /// Nothing to show: `-` on screen, an empty cell in a spreadsheet.
    pub fn none() -> Cell {
        Cell {
            text: "-".into(),
            raw: String::new(),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

macro_rules! row {
    ($($cell:expr),* $(,)?) => { vec![$(Cell::from($cell)),*] };
}

/// One table: its file name (for `--csv`), title, columns and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(name: &'static str, title: &str, columns: &[&str]) -> Table {
        Table {
            name,
            title: title.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }
}

/// A duration in a few characters: `45s`, `12m`, `3h05m`, `2d04h`.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn elapsed(e: Option<Elapsed>) -> Cell {
    match e {
        None => Cell::none(),
        Some(Elapsed::Never) => Cell::from("never"),
        Some(Elapsed::Secs(s)) => seconds(s),
    }
}

/// A time: shown short, given in seconds.
pub fn seconds(s: i64) -> Cell {
    Cell {
        text: duration(s),
        raw: s.to_string(),
    }
}

pub fn opt_duration(s: Option<i64>) -> Cell {
    s.map(seconds).unwrap_or_else(Cell::none)
}

pub fn percent(x: f64) -> Cell {
    Cell {
        text: format!("{:.0}%", x * 100.0),
        raw: format!("{x:.4}"),
    }
}

/// A share of a whole, or none when the whole is empty.
pub fn share(part: usize, whole: usize) -> Cell {
    if whole == 0 {
        Cell::none()
    } else {
        percent(part as f64 / whole as f64)
    }
}

fn dist_cells(d: &Distribution) -> Vec<Cell> {
    let mut v = row![
        d.n.to_string(),
        elapsed(d.p50),
        elapsed(d.p90),
        elapsed(d.p95),
    ];
    v.extend((0..BANDS.len()).map(|i| share(d.bands[i], d.n)));
    v
}

fn speed_overall(r: &Report) -> Table {
    let mut cols = vec!["step", "clock", "leads", "P50", "P90", "P95"];
    cols.extend(BANDS);
    let mut t = Table::new(
        "speed",
        "Speed to lead: arrival to each step (system part: acknowledged, assigned; human part: assigned to first contact)",
        &cols,
    );
    let s = &r.speed.overall;
    for (step, m) in [
        ("arrival → acknowledged", &s.acknowledged),
        ("arrival → assigned", &s.assigned),
        ("arrival → first contact", &s.contacted),
        ("assigned → first contact", &s.human),
    ] {
        for (clock, d) in [("wall clock", &m.wall), ("business hours", &m.business)] {
            let mut row = row![step, clock];
            row.extend(dist_cells(d));
            t.rows.push(row);
        }
    }
    t
}

fn speed_by(name: &'static str, title: &str, key: &str, rows: &[SpeedRow]) -> Table {
    let mut t = Table::new(
        name,
        title,
        &[
            key,
            "leads",
            "ack P50",
            "assigned P50",
            "contact P50",
            "contact P90",
            "contact P95",
            "contact P50 (business)",
            "contact P90 (business)",
            "human P50",
            "human P90",
            "<5m",
            "never",
        ],
    );
    for r in rows {
        let c = &r.contacted.wall;
        t.rows.push(row![
            r.key.clone(),
            r.leads.to_string(),
            elapsed(r.acknowledged.wall.p50),
            elapsed(r.assigned.wall.p50),
            elapsed(c.p50),
            elapsed(c.p90),
            elapsed(c.p95),
            elapsed(r.contacted.business.p50),
            elapsed(r.contacted.business.p90),
            elapsed(r.human.wall.p50),
            elapsed(r.human.wall.p90),
            share(c.bands[0], c.n),
            share(c.bands[5], c.n),
        ]);
    }
    t
}

fn sla_table(
    name: &'static str,
    title: &str,
    key: &str,
    overall: &SlaRow,
    rows: &[SlaRow],
) -> Table {
    let mut t = Table::new(
        name,
        title,
        &[
            key,
            "with SLA",
            "met",
            "breached",
            "pending",
            "met %",
            "mean over",
            "worst over",
            "reminders",
            "escalations",
            "reassignments",
        ],
    );
    for r in std::iter::once(overall).chain(rows) {
        t.rows.push(row![
            r.key.clone(),
            r.leads.to_string(),
            r.met.to_string(),
            r.breached.to_string(),
            r.pending.to_string(),
            share(r.met, r.met + r.breached),
            opt_duration(r.mean_over),
            opt_duration(r.worst_over),
            r.reminders.to_string(),
            r.escalations.to_string(),
            r.reassignments.to_string(),
        ]);
    }
    t
}

fn reasons(m: &std::collections::BTreeMap<String, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn source_table(name: &'static str, title: &str, rows: &[SourceRow], campaigns: bool) -> Table {
    let mut cols = vec!["source"];
    if campaigns {
        cols.push("campaign");
    }
    cols.extend([
        "leads",
        "spam",
        "test",
        "real",
        "worked",
        "qualified",
        "converted",
        "qualified %",
        "converted %",
        "disqualified (reason count)",
    ]);
    let mut t = Table::new(name, title, &cols);
    for r in rows {
        let mut row = row![r.source.clone()];
        if campaigns {
            row.push(Cell::from(r.campaign.clone().unwrap_or_default()));
        }
        row.extend(row![
            r.leads.to_string(),
            r.spam.to_string(),
            r.test.to_string(),
            r.real().to_string(),
            r.worked.to_string(),
            r.qualified.to_string(),
            r.converted.to_string(),
            share(r.qualified, r.real()),
            share(r.converted, r.real()),
            reasons(&r.disqualified),
        ]);
        t.rows.push(row);
    }
    t
}

fn transitions(r: &Report) -> Table {
    let mut t = Table::new(
        "transitions",
        "Lifecycle: conversion at each step and the median time it took",
        &["group", "step", "entered", "reached", "rate", "median time"],
    );
    let all = std::iter::once(("all".to_owned(), &r.funnel.overall))
        .chain(
            r.funnel
                .by_source_velocity
                .iter()
                .map(|v| (format!("source {}", v.key), v)),
        )
        .chain(
            r.funnel
                .by_owner_velocity
                .iter()
                .map(|v| (format!("owner {}", v.key), v)),
        );
    for (group, v) in all {
        let v: &Velocity = v;
        for s in &v.steps {
            t.rows.push(row![
                group.clone(),
                format!("{} → {}", s.from, s.to),
                s.entered.to_string(),
                s.reached.to_string(),
                share(s.reached, s.entered),
                opt_duration(s.median),
            ]);
        }
    }
    t
}

fn money(x: Option<f64>) -> Cell {
    x.map(|v| Cell::from(format!("{v:.2}")))
        .unwrap_or_else(Cell::none)
}

/// Every table of the report, in reading order.
pub fn tables(r: &Report) -> Vec<Table> {
    let mut out = Vec::new();
    let s = &r.speed.overall;
    let mut summary = Table::new("summary", "Summary", &["measure", "value"]);
    let conv = &r.funnel.overall.steps;
    for (k, v) in [
        ("leads (spam and test included)", r.leads.to_string().into()),
        ("real leads", r.real_leads.to_string().into()),
        (
            "first contact P50 (wall clock)",
            elapsed(s.contacted.wall.p50),
        ),
        (
            "first contact P50 (business hours)",
            elapsed(s.contacted.business.p50),
        ),
        (
            "first contact under 5 minutes",
            share(s.contacted.wall.bands[0], s.contacted.wall.n),
        ),
        ("acknowledged P95", elapsed(s.acknowledged.wall.p95)),
        (
            "SLA met",
            share(
                r.sla.overall.met,
                r.sla.overall.met + r.sla.overall.breached,
            ),
        ),
        ("SLA breaches", r.sla.overall.breached.to_string().into()),
        (
            "converted (of real leads)",
            share(conv[2].reached, r.real_leads),
        ),
    ] {
        summary.rows.push(row![k, v]);
    }
    out.push(summary);
    out.push(speed_overall(r));
    out.push(speed_by(
        "speed_by_owner",
        "Speed to lead by owner",
        "owner",
        &r.speed.by_owner,
    ));
    out.push(speed_by(
        "speed_by_team",
        "Speed to lead by team",
        "team",
        &r.speed.by_team,
    ));
    out.push(speed_by(
        "speed_by_source",
        "Speed to lead by source",
        "source",
        &r.speed.by_source,
    ));
    out.push(speed_by(
        "speed_by_week",
        "Speed to lead by week (of arrival, UTC)",
        "week",
        &r.speed.by_week,
    ));
    out.push(sla_table(
        "sla_by_owner",
        "SLA by owner (steps counted for the owner who held the lead)",
        "owner",
        &r.sla.overall,
        &r.sla.by_owner,
    ));
    out.push(sla_table(
        "sla_by_team",
        "SLA by team",
        "team",
        &r.sla.overall,
        &r.sla.by_team,
    ));
    out.push(sla_table(
        "sla_by_week",
        "SLA by week",
        "week",
        &r.sla.overall,
        &r.sla.by_week,
    ));

    let mut f = Table::new(
        "fairness",
        "Fairness: each owner's share of the team's assignments against their weight",
        &[
            "team",
            "owner",
            "weight",
            "expected",
            "assigned",
            "share",
            "difference",
            "skipped (reason count)",
        ],
    );
    for o in &r.fairness.owners {
        f.rows.push(row![
            o.team.clone(),
            o.owner.clone(),
            o.weight.to_string(),
            percent(o.expected),
            o.assigned.to_string(),
            percent(o.share),
            Cell {
                text: format!("{:+.0} pp", (o.share - o.expected) * 100.0),
                raw: format!("{:.4}", o.share - o.expected),
            },
            reasons(&o.skipped),
        ]);
    }
    out.push(f);
    let mut w = Table::new(
        "fairness_by_week",
        "Fairness by week",
        &["week", "team", "owner", "assigned", "share", "expected"],
    );
    for o in &r.fairness.weekly {
        w.rows.push(row![
            o.week.clone(),
            o.team.clone(),
            o.owner.clone(),
            o.assigned.to_string(),
            percent(o.share),
            percent(o.expected),
        ]);
    }
    out.push(w);
    out.push(source_table(
        "sources",
        "Sources: quality and funnel",
        &r.funnel.by_source,
        false,
    ));
    out.push(source_table(
        "campaigns",
        "Campaigns (UTM campaign, else the ad platform's)",
        &r.funnel.by_campaign,
        true,
    ));
    out.push(transitions(r));
    let mut b = Table::new(
        "conversion_by_speed",
        "Conversion by speed to first contact (wall clock)",
        &[
            "first contact",
            "leads",
            "qualified",
            "converted",
            "qualified %",
            "converted %",
        ],
    );
    for x in &r.funnel.by_speed_band {
        b.rows.push(row![
            x.band.clone(),
            x.leads.to_string(),
            x.qualified.to_string(),
            x.converted.to_string(),
            share(x.qualified, x.leads),
            share(x.converted, x.leads),
        ]);
    }
    out.push(b);
    if let Some(spend) = &r.spend {
        let mut t = Table::new(
            "spend",
            "Spend: cost per lead and per qualified lead",
            &[
                "source",
                "month",
                "spend",
                "leads",
                "qualified",
                "per lead",
                "per qualified lead",
            ],
        );
        for x in spend {
            t.rows.push(row![
                x.source.clone(),
                x.month.clone(),
                format!("{:.2}", x.amount),
                x.leads.to_string(),
                x.qualified.to_string(),
                money(x.per_lead()),
                money(x.per_qualified()),
            ]);
        }
        out.push(t);
    }
    let mut cols = vec!["owner"];
    cols.extend(AGES);
    cols.push("uncontacted");
    let mut o = Table::new(
        "open_by_owner",
        "Now: open leads (new or working) by age and owner",
        &cols,
    );
    for a in &r.now.open_by_owner {
        let mut row = row![a.owner.clone()];
        row.extend(a.ages.iter().map(|n| Cell::from(n.to_string())));
        row.push(Cell::from(a.uncontacted.to_string()));
        o.rows.push(row);
    }
    out.push(o);
    let mut u = Table::new(
        "oldest_uncontacted",
        "Now: the oldest leads without first contact",
        &["lead", "source", "owner", "age"],
    );
    for l in &r.now.oldest_uncontacted {
        u.rows.push(row![
            l.lead_id.clone(),
            l.source.clone(),
            l.owner.clone(),
            seconds(l.age),
        ]);
    }
    out.push(u);
    let mut st = Table::new(
        "stuck",
        "Now: parked, or waiting on a pipeline step past the sweep's grace",
        &["lead", "source", "owner", "age", "state", "reason"],
    );
    for l in &r.now.stuck {
        st.rows.push(row![
            l.lead_id.clone(),
            l.source.clone(),
            l.owner.clone(),
            seconds(l.age),
            l.state.clone(),
            l.reason.clone().unwrap_or_default(),
        ]);
    }
    out.push(st);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_a_few_characters() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(12 * 60 + 5), "12m");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3h05m");
        assert_eq!(duration(2 * 86_400 + 4 * 3600), "2d04h");
        assert_eq!(elapsed(Some(Elapsed::Never)).text, "never");
        assert_eq!(elapsed(None).text, "-");
        assert_eq!(share(1, 3).text, "33%");
        assert_eq!(share(1, 0).text, "-");
        assert_eq!(share(1, 0).raw, "");
    }

    #[test]
    fn spreadsheets_get_seconds_and_fractions() {
        assert_eq!(elapsed(Some(Elapsed::Secs(11_100))).raw, "11100");
        assert_eq!(elapsed(Some(Elapsed::Secs(11_100))).text, "3h05m");
        assert_eq!(share(1, 3).raw, "0.3333");
    }
}
