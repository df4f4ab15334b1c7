//! The wasmbus actor ABI: what a core module imports from the host.
//!
//! The imports are defined once on the `Linker` under the module names `wasmbus` and
//! `wapc` (older guests). All parameters are i32 pointers and lengths into the guest's
//! exported `memory`; a bad pointer traps the call, it never reaches outside the guest.

use bytes::Bytes;
use kiln_telemetry::TraceContext;
use tracing::Instrument as _;
use wasmtime::{Caller, Extern, Linker, Memory};

use super::builtins;
use super::state::HostState;
use crate::hostcalls::HostCall;

/// Module names the imports are offered under.
const IMPORT_MODULES: [&str; 2] = ["wasmbus", "wapc"];
/// Returned by `__host_call` on success; anything else is failure.
const HOST_CALL_OK: i32 = 1;
const HOST_CALL_FAILED: i32 = 0;

/// Defines the wasmbus imports on `linker`, under each module name.
///
/// # Errors
/// Only if wasmtime refuses a definition, which would be a bug here.
pub fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    for module in IMPORT_MODULES {
        define_guest_side(linker, module)?;
        define_host_side(linker, module)?;
    }
    Ok(())
}

/// Imports the guest uses to read its request and hand back its answer.
fn define_guest_side(linker: &mut Linker<HostState>, module: &str) -> wasmtime::Result<()> {
    linker.func_wrap(
        module,
        "__guest_request",
        |mut caller: Caller<'_, HostState>, op_ptr: i32, payload_ptr: i32| {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            write(data, op_ptr, state.call.operation.as_bytes())?;
            write(data, payload_ptr, &state.call.payload)
        },
    )?;
    linker.func_wrap(
        module,
        "__guest_response",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| {
            let bytes = read(&mut caller, ptr, len)?;
            caller.data_mut().call.response = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        module,
        "__guest_error",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| {
            let bytes = read(&mut caller, ptr, len)?;
            caller.data_mut().call.guest_error = Some(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(module, "__console_log", |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| {
        let bytes = read(&mut caller, ptr, len)?;
        let actor = caller.data().actor.clone();
        tracing::debug!(actor = &*actor, text = %String::from_utf8_lossy(&bytes), "actor console");
        Ok(())
    })?;
    Ok(())
}

/// Imports through which the guest calls out and reads the results.
fn define_host_side(linker: &mut Linker<HostState>, module: &str) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        module,
        "__host_call",
        |caller: Caller<'_, HostState>, args: HostCallArgs| Box::new(host_call(caller, args)),
    )?;
    linker.func_wrap(
        module,
        "__host_response_len",
        |caller: Caller<'_, HostState>| {
            len_i32(
                caller
                    .data()
                    .call
                    .host_response
                    .as_ref()
                    .map_or(0, Bytes::len),
            )
        },
    )?;
    linker.func_wrap(
        module,
        "__host_response",
        |mut caller: Caller<'_, HostState>, ptr: i32| {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let bytes = state.call.host_response.take().unwrap_or_default();
            write(data, ptr, &bytes)
        },
    )?;
    linker.func_wrap(
        module,
        "__host_error_len",
        |caller: Caller<'_, HostState>| {
            len_i32(
                caller
                    .data()
                    .call
                    .host_error
                    .as_ref()
                    .map_or(0, String::len),
            )
        },
    )?;
    linker.func_wrap(
        module,
        "__host_error",
        |mut caller: Caller<'_, HostState>, ptr: i32| {
            let memory = memory(&mut caller)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let text = state.call.host_error.take().unwrap_or_default();
            write(data, ptr, text.as_bytes())
        },
    )?;
    Ok(())
}

/// `__host_call(binding, namespace, operation, payload)`: pointers and lengths of each.
type HostCallArgs = (i32, i32, i32, i32, i32, i32, i32, i32);

/// Runs one host call: builtins here, anything else through the control plane; the
/// result waits in the call state for `__host_response` or `__host_error`.
async fn host_call(
    mut caller: Caller<'_, HostState>,
    (bd_ptr, bd_len, ns_ptr, ns_len, op_ptr, op_len, ptr, len): HostCallArgs,
) -> wasmtime::Result<i32> {
    let binding = read_string(&mut caller, bd_ptr, bd_len)?;
    let namespace = read_string(&mut caller, ns_ptr, ns_len)?;
    let operation = read_string(&mut caller, op_ptr, op_len)?;
    let payload = read(&mut caller, ptr, len)?;
    let state = caller.data_mut();
    state.call.host_response = None;
    state.call.host_error = None;
    let result = if namespace.starts_with(builtins::PREFIX) {
        builtins::call(&state.actor, &namespace, &operation, &payload).map(Bytes::from)
    } else {
        let span = host_call_span(state, &binding, &namespace, &operation);
        let call = HostCall {
            actor: state.actor.to_string(),
            binding,
            namespace,
            operation,
            payload,
            invocation_id: state.call.invocation_id.clone(),
            trace: TraceContext::of(&span),
        };
        let broker = state.broker.clone();
        let result = broker.call(call).instrument(span.clone()).await;
        if let Err(error) = &result {
            kiln_telemetry::record_error(&span, error);
        }
        result
    };
    let state = caller.data_mut();
    Ok(match result {
        Ok(bytes) => {
            state.call.host_response = Some(bytes);
            HOST_CALL_OK
        }
        Err(message) => {
            state.call.host_error = Some(message);
            HOST_CALL_FAILED
        }
    })
}

/// The client span of a host call that leaves for the control plane, a child of the
/// invocation's span (explicitly: the guest runs on a fiber, not in the task's scope).
fn host_call_span(
    state: &HostState,
    binding: &str,
    namespace: &str,
    operation: &str,
) -> tracing::Span {
    use kiln_telemetry::spans;
    let make = || {
        spans::host_call(
            spans::Kind::Client,
            kiln_proto::dataplane::v1::host_calls_server::SERVICE_NAME,
            namespace,
            operation,
        )
    };
    let span = match &state.call.span {
        Some(parent) => parent.in_scope(make),
        None => make(),
    };
    spans::Domain {
        actor: Some(&state.actor),
        link: Some(kiln_types::link::name_or_default(binding)),
        invocation: Some(&state.call.invocation_id),
        ..spans::Domain::default()
    }
    .record(&span);
    span
}

fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the actor does not export its memory as \"memory\""),
    }
}

fn span(ptr: i32, len: usize, size: usize) -> wasmtime::Result<std::ops::Range<usize>> {
    // Pointers are u32 in wasm32; the i32 parameter is only their bit pattern.
    let start = ptr as u32 as usize;
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => wasmtime::bail!(
            "the actor passed a pointer outside its memory ({start} + {len} > {size})"
        ),
    }
}

fn write(data: &mut [u8], ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let range = span(ptr, bytes.len(), data.len())?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

fn read(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = memory(caller)?;
    let data = memory.data(&*caller);
    let range = span(ptr, len as u32 as usize, data.len())?;
    Ok(data[range].to_vec())
}

fn read_string(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<String> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

fn len_i32(len: usize) -> wasmtime::Result<i32> {
    i32::try_from(len).map_err(|_| {
        wasmtime::format_err!("host result of {len} bytes is too large for a wasm32 guest")
    })
}
