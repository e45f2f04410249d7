//! Attribution: UTM parameters and ad click ids.

/// The click ids kept as attribution.
pub const CLICK_IDS: &[&str] = &["gclid", "fbclid", "msclkid", "li_fat_id", "ttclid"];
