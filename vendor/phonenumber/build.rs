use std::env;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::Path;

#[path = "src/metadata/loader.rs"]
mod loader;

#[path = "src/error.rs"]
mod error;

// LEADRELAY PATCH: each region's metadata is serialised on its own, and an index (region, code,
// main country for the code, byte range) is generated as Rust, so that a process builds only
// the regions it meets instead of all 254 at start (see PATCHED.md).
fn main() {
    let pnm_path = "assets/PhoneNumberMetadata.xml";
    let metadata = loader::load(BufReader::new(
        File::open(pnm_path).expect("could not open metadata file"),
    ))
    .expect("failed to load metadata");
    println!("cargo:rerun-if-changed={pnm_path}");

    let mut database = Vec::new();
    let mut index = String::from(
        "/// Each bundled region: its id, country code, whether it is the code's main country,\n\
         /// and where its serialised metadata lies in `database.bin`.\n\
         pub(crate) const INDEX: &[(&str, u16, bool, usize, usize)] = &[\n",
    );
    for meta in &metadata {
        let id = meta.id.as_deref().expect("region without an id");
        let code = meta.country_code.expect("region without a country code");
        let start = database.len();
        database.extend(postcard::to_stdvec(meta).expect("failed to serialize region"));
        writeln!(
            index,
            "    ({id:?}, {code}, {}, {start}, {}),",
            meta.main_country_for_code,
            database.len()
        )
        .unwrap();
    }
    index.push_str("];\n");

    let out = env::var("OUT_DIR").unwrap();
    fs::write(Path::new(&out).join("database.bin"), database)
        .expect("could not write database file");
    fs::write(Path::new(&out).join("database_index.rs"), index)
        .expect("could not write database index");
}
