use wasmhook_sdk::prelude::*;

#[block]
fn run(input: BlockInput, _config: Config) {
    let _ = input;
}

fn main() {}
