//! Compiles the .proto files with protox (pure Rust), so no system protoc is needed, and
//! keeps the encoded descriptors for gRPC server reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "kiln/dataplane/v1/data_plane.proto",
        "kiln/dataplane/v1/host_calls.proto",
        "kiln/control/v1/control.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("kiln_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        // Payloads and artifact chunks are views of the received buffer, not copies.
        .bytes(".kiln.dataplane.v1")
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
