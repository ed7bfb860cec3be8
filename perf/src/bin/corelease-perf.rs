//! Stand-alone `corelease-perf` executable (the same entry point `corelease perf` calls); the
//! integration tests run it inside their network namespace.

fn main() {
    std::process::exit(corelease_perf::main_with_args(
        std::env::args_os().skip(1).collect(),
    ));
}
