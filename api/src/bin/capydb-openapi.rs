fn main() {
    print!("{}", capydb_api::openapi_json());
}
