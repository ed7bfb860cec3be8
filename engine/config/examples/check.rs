//! Loads each configuration file given and prints the verdict, like `kea-dhcp4 -t`:
//! `cargo run -p corelease-config --example check -- kea-dhcp4.json ...`

fn main() {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        match corelease_config::load_dhcp4_file(std::path::Path::new(&arg)) {
            Ok(loaded) => {
                println!("OK   {arg}");
                for issue in loaded.unsupported.iter().chain(&loaded.warnings) {
                    println!("     {issue}");
                }
            }
            Err(e) => {
                failed = true;
                println!("ERR  {arg}");
                for issue in &e.issues {
                    println!("     {issue}");
                }
            }
        }
    }
    std::process::exit(i32::from(failed));
}
