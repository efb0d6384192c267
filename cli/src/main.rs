fn main() {
    std::process::exit(capydb_cli::main());
}
